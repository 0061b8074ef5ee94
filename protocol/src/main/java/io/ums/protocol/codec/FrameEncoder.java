package io.ums.protocol.codec;

import static io.ums.protocol.codec.FrameType.*;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.ums.protocol.ProtocolError;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Turns frames into bytes. Control frames are written into one buffer: a header placeholder, the
 * body, then the length patched in. A DATA frame is its small header plus the caller's payload
 * buffer as is, so payload bytes are never copied here.
 */
public final class FrameEncoder {
  private FrameEncoder() {}

  public static Buffer magic() {
    return Buffer.buffer(4).appendInt(MAGIC);
  }

  public static Buffer encode(Frame frame) {
    if (frame instanceof Frame.Hello h) {
      Buffer b = start(HELLO, 0, 0, 64 + h.sessionId().length());
      b.appendInt(MAGIC).appendUnsignedShort(h.version()).appendInt(h.maxFrameSize()).appendInt(h.initialWindow());
      appendStrings(b, h.codecs());
      byte[] session = h.sessionId().getBytes(StandardCharsets.UTF_8);
      b.appendUnsignedShort(session.length).appendBytes(session).appendBuffer(h.clientNonce());
      return finish(b);
    }
    if (frame instanceof Frame.Challenge c) {
      Buffer b = start(CHALLENGE, 0, 0, 64).appendUnsignedShort(c.version()).appendBuffer(c.serverNonce());
      appendStrings(b, c.codecs());
      return finish(b);
    }
    if (frame instanceof Frame.Auth a) {
      return finish(start(AUTH, 0, 0, PROOF_SIZE).appendBuffer(a.clientProof()));
    }
    if (frame instanceof Frame.Accept a) {
      return finish(start(ACCEPT, 0, 0, 8 + PROOF_SIZE)
          .appendInt(a.maxFrameSize()).appendInt(a.initialWindow()).appendBuffer(a.serverProof()));
    }
    if (frame instanceof Frame.Open o) {
      byte[] kind = o.kind().getBytes(StandardCharsets.UTF_8);
      Buffer b = start(OPEN, o.compressed() ? FLAG_COMPRESSED : 0, o.channel(), 2 + kind.length + o.metadata().length());
      return finish(b.appendUnsignedShort(kind.length).appendBytes(kind).appendBuffer(o.metadata()));
    }
    if (frame instanceof Frame.Data d) {
      return data(d.channel(), d.lz4(), d.crc(), d.uncompressedLength(), d.payload());
    }
    if (frame instanceof Frame.Credit c) {
      return finish(start(CREDIT, 0, c.channel(), 4).appendInt(c.increment()));
    }
    if (frame instanceof Frame.Close c) {
      return finish(start(CLOSE, 0, c.channel(), 12).appendLong(c.totalLength()).appendInt(c.crc()));
    }
    if (frame instanceof Frame.CloseAck c) {
      return finish(start(CLOSE_ACK, 0, c.channel(), 0));
    }
    if (frame instanceof Frame.Reset r) {
      return finish(appendMessage(start(RESET, 0, r.channel(), 64), r.code(), r.message()));
    }
    if (frame instanceof Frame.Ping p) {
      return finish(start(PING, 0, 0, 8).appendLong(p.opaque()));
    }
    if (frame instanceof Frame.Pong p) {
      return finish(start(PONG, 0, 0, 8).appendLong(p.opaque()));
    }
    if (frame instanceof Frame.GoAway g) {
      return finish(appendMessage(start(GOAWAY, 0, 0, 64).appendInt(g.lastChannelId()), g.code(), g.message()));
    }
    Frame.Error e = (Frame.Error) frame;
    return finish(appendMessage(start(ERROR, 0, 0, 64), e.code(), e.message()));
  }

  /** A DATA frame: its header (with crc and uncompressed length) joined with the payload, not copied. */
  public static Buffer data(int channel, boolean lz4, int crc, int uncompressedLength, Buffer payload) {
    Buffer header = dataHeader(channel, lz4, crc, uncompressedLength, payload.length());
    return BufferInternal.buffer(Unpooled.wrappedBuffer(((BufferInternal) header).getByteBuf(),
        ((BufferInternal) payload).getByteBuf()));
  }

  /**
   * The bytes of a DATA frame that precede its payload. Writers send them and the payload as two
   * messages, so the payload goes to the socket without being copied into a frame buffer.
   */
  public static Buffer dataHeader(int channel, boolean lz4, int crc, int uncompressedLength, int payloadLength) {
    int prefix = lz4 ? DATA_PREFIX_LZ4 : DATA_PREFIX_RAW;
    ByteBuf header = Unpooled.buffer(HEADER_SIZE + prefix);
    header.writeInt(prefix + payloadLength)
        .writeByte(DATA).writeByte(lz4 ? FLAG_COMPRESSED : 0).writeShort(0).writeInt(channel)
        .writeInt(crc);
    if (lz4) {
      header.writeInt(uncompressedLength);
    }
    return BufferInternal.buffer(header);
  }

  private static Buffer start(int type, int flags, int channel, int bodySizeHint) {
    return Buffer.buffer(HEADER_SIZE + bodySizeHint)
        .appendInt(0) // length placeholder, patched by finish()
        .appendUnsignedByte((short) type).appendUnsignedByte((short) flags).appendShort((short) 0)
        .appendInt(channel);
  }

  private static Buffer finish(Buffer frame) {
    return frame.setInt(0, frame.length() - HEADER_SIZE);
  }

  private static void appendStrings(Buffer b, List<String> strings) {
    b.appendUnsignedByte((short) strings.size());
    for (String s : strings) {
      byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
      b.appendUnsignedByte((short) bytes.length).appendBytes(bytes);
    }
  }

  private static Buffer appendMessage(Buffer b, ProtocolError code, String message) {
    byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
    return b.appendUnsignedShort(code.code()).appendBytes(bytes, 0, Math.min(bytes.length, MAX_MESSAGE_BYTES));
  }
}
