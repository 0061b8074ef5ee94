package io.ums.protocol.codec;

import io.ums.protocol.ProtocolError;
import io.vertx.core.buffer.Buffer;
import java.util.List;

/** Every UMS frame as a value (PROTOCOL.md, section 2). Channel 0 is the connection itself. */
public sealed interface Frame {
  int channel();

  /** Handshake frames: allowed only before the connection is authenticated. */
  sealed interface HandshakeFrame extends Frame {
    @Override
    default int channel() {
      return 0;
    }
  }

  /** Frames that belong to one channel (non-zero id). */
  sealed interface ChannelFrame extends Frame {}

  record Hello(int version, int maxFrameSize, int initialWindow, List<String> codecs, String sessionId,
      Buffer clientNonce) implements HandshakeFrame {}

  record Challenge(int version, Buffer serverNonce, List<String> codecs) implements HandshakeFrame {}

  record Auth(Buffer clientProof) implements HandshakeFrame {}

  record Accept(int maxFrameSize, int initialWindow, Buffer serverProof) implements HandshakeFrame {}

  record Open(int channel, boolean compressed, String kind, Buffer metadata) implements ChannelFrame {}

  /**
   * Channel bytes. {@code crc} covers {@code payload} as on the wire; when {@code lz4} the payload
   * is an LZ4 block of {@code uncompressedLength} bytes, otherwise {@code uncompressedLength} is
   * the payload's length.
   */
  record Data(int channel, boolean lz4, int crc, int uncompressedLength, Buffer payload) implements ChannelFrame {}

  record Credit(int channel, int increment) implements ChannelFrame {}

  record Close(int channel, long totalLength, int crc) implements ChannelFrame {}

  record CloseAck(int channel) implements ChannelFrame {}

  record Reset(int channel, ProtocolError code, String message) implements ChannelFrame {}

  record Ping(long opaque) implements Frame {
    @Override
    public int channel() {
      return 0;
    }
  }

  record Pong(long opaque) implements Frame {
    @Override
    public int channel() {
      return 0;
    }
  }

  record GoAway(int lastChannelId, ProtocolError code, String message) implements Frame {
    @Override
    public int channel() {
      return 0;
    }
  }

  record Error(ProtocolError code, String message) implements Frame {
    @Override
    public int channel() {
      return 0;
    }
  }
}
