package io.ums.protocol.codec;

import static io.ums.protocol.codec.FrameType.*;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.ums.protocol.ProtocolError;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Incremental frame decoder: fed {@link Buffer}s split anywhere, it reads the magic, then for each
 * frame the fixed header and its payload, and hands complete frames to a {@link FrameHandler}.
 * The payload length is checked against {@code maxFrameSize} before a payload byte is kept.
 * A DATA payload is a slice of the received buffers (no copy; a payload spanning several reads becomes
 * a composite view) holding its own reference, so the pooled buffers a socket reads into are released
 * once every frame in them is consumed; the other frames' byte fields are copied out (they are a few
 * dozen bytes). After the first protocol error the decoder is failed for good and ignores every later
 * byte. It never throws to its caller.
 */
public final class FrameDecoder implements Handler<Buffer> {
  private enum State { MAGIC, HEADER, PAYLOAD, FAILED }

  private final int maxFrameSize;
  private final FrameHandler handler;
  private final ArrayDeque<ByteBuf> chunks = new ArrayDeque<>();
  private long readable;
  private State state;
  private int type;
  private int flags;
  private int channel;
  private int length;

  public FrameDecoder(int maxFrameSize, boolean expectMagic, FrameHandler handler) {
    this.maxFrameSize = maxFrameSize;
    this.handler = handler;
    this.state = expectMagic ? State.MAGIC : State.HEADER;
  }

  /** Bytes received but not yet decoded into frames (bounded by one frame plus one read). */
  public long bufferedBytes() {
    return readable;
  }

  public boolean failed() {
    return state == State.FAILED;
  }

  /** Stops decoding: later input is ignored (used once the connection is closing). */
  public void stop() {
    state = State.FAILED;
    chunks.forEach(ByteBuf::release);
    chunks.clear();
    readable = 0;
  }

  @Override
  public void handle(Buffer received) {
    handle(((BufferInternal) received).getByteBuf());
  }

  /**
   * Decodes {@code received}, taking over its reference: it is released once consumed, and a DATA
   * frame's payload holds a reference of its own (its consumer releases it).
   */
  public void handle(ByteBuf received) {
    if (state == State.FAILED || !received.isReadable()) {
      received.release();
      return;
    }
    chunks.add(received);
    readable += received.readableBytes();
    try {
      decodeAvailable();
    } catch (DecodeException e) {
      fail(e.error, e.getMessage());
    } catch (RuntimeException e) {
      fail(ProtocolError.INTERNAL, "decoder failure: " + e);
    }
  }

  private void decodeAvailable() {
    while (state != State.FAILED) {
      switch (state) {
        case MAGIC -> {
          if (readable < 4) {
            return;
          }
          ByteBuf magicBytes = take(4);
          int magic = magicBytes.readInt();
          magicBytes.release();
          if (magic != MAGIC) {
            throw new DecodeException(ProtocolError.BAD_MAGIC,
                String.format("connection must start with UMSP magic, got 0x%08x", magic));
          }
          state = State.HEADER;
        }
        case HEADER -> {
          if (readable < HEADER_SIZE) {
            return;
          }
          ByteBuf header = take(HEADER_SIZE);
          try {
            readHeader(header);
          } finally {
            header.release();
          }
          state = State.PAYLOAD;
        }
        case PAYLOAD -> {
          if (readable < length) {
            return;
          }
          ByteBuf payload = length == 0 ? Unpooled.EMPTY_BUFFER : take(length);
          state = State.HEADER;
          Frame frame = null;
          try {
            frame = decodePayload(payload);
          } catch (IndexOutOfBoundsException e) {
            throw malformed(String.format("frame type 0x%02x: payload of %d bytes too short", type, length));
          } finally {
            if (!(frame instanceof Frame.Data)) {
              payload.release();
            }
          }
          handler.onFrame(frame);
        }
        case FAILED -> {
          return;
        }
      }
    }
  }

  private void readHeader(ByteBuf header) {
    long payloadLength = header.readUnsignedInt();
    type = header.readUnsignedByte();
    flags = header.readUnsignedByte();
    int reserved = header.readUnsignedShort();
    long channelId = header.readUnsignedInt();
    if (payloadLength > maxFrameSize) {
      throw new DecodeException(ProtocolError.FRAME_TOO_LARGE,
          "frame payload of " + payloadLength + " bytes exceeds the limit of " + maxFrameSize);
    }
    if (!knownType(type)) {
      throw new DecodeException(ProtocolError.UNKNOWN_FRAME_TYPE, String.format("unknown frame type 0x%02x", type));
    }
    if (reserved != 0) {
      throw new DecodeException(ProtocolError.MALFORMED_FRAME, "reserved header bits set");
    }
    if (channelId > Integer.MAX_VALUE) {
      throw new DecodeException(ProtocolError.MALFORMED_FRAME, "channel id " + channelId + " out of range");
    }
    boolean channelFrame = isChannelFrame(type);
    if (channelFrame == (channelId == 0)) {
      throw new DecodeException(ProtocolError.MALFORMED_FRAME, String.format(
          "frame type 0x%02x must use %s", type, channelFrame ? "a non-zero channel id" : "channel 0"));
    }
    int allowedFlags = type == DATA || type == OPEN ? FLAG_COMPRESSED : 0;
    if ((flags & ~allowedFlags) != 0) {
      throw new DecodeException(ProtocolError.MALFORMED_FRAME, String.format("unknown flags 0x%02x", flags));
    }
    length = (int) payloadLength;
    channel = (int) channelId;
  }

  private static boolean knownType(int type) {
    return (type >= HELLO && type <= ACCEPT) || (type >= OPEN && type <= RESET) || (type >= PING && type <= ERROR);
  }

  private Frame decodePayload(ByteBuf p) {
    Frame frame = switch (type) {
      case HELLO -> decodeHello(p);
      case CHALLENGE -> new Frame.Challenge(p.readUnsignedShort(), bytes(p, NONCE_SIZE), strings(p));
      case AUTH -> new Frame.Auth(bytes(p, PROOF_SIZE));
      case ACCEPT -> new Frame.Accept(positiveInt(p), positiveInt(p), bytes(p, PROOF_SIZE));
      case OPEN -> new Frame.Open(channel, (flags & FLAG_COMPRESSED) != 0, string(p, p.readUnsignedShort()),
          bytes(p, p.readableBytes()));
      case DATA -> decodeData(p);
      case CREDIT -> new Frame.Credit(channel, positiveInt(p));
      case CLOSE -> new Frame.Close(channel, nonNegativeLong(p), p.readInt());
      case CLOSE_ACK -> new Frame.CloseAck(channel);
      case RESET -> new Frame.Reset(channel, ProtocolError.fromCode(p.readUnsignedShort()), message(p));
      case PING -> new Frame.Ping(p.readLong());
      case PONG -> new Frame.Pong(p.readLong());
      case GOAWAY -> new Frame.GoAway(p.readInt(), ProtocolError.fromCode(p.readUnsignedShort()), message(p));
      case ERROR -> new Frame.Error(ProtocolError.fromCode(p.readUnsignedShort()), message(p));
      default -> throw new DecodeException(ProtocolError.UNKNOWN_FRAME_TYPE, "unknown frame type " + type);
    };
    if (p.isReadable()) {
      throw malformed("trailing bytes");
    }
    return frame;
  }

  private Frame decodeHello(ByteBuf p) {
    int magic = p.readInt();
    if (magic != MAGIC) {
      throw new DecodeException(ProtocolError.BAD_MAGIC, String.format("HELLO magic 0x%08x", magic));
    }
    int version = p.readUnsignedShort();
    int peerMaxFrame = positiveInt(p);
    int peerWindow = positiveInt(p);
    List<String> codecs = strings(p);
    String sessionId = string(p, p.readUnsignedShort());
    return new Frame.Hello(version, peerMaxFrame, peerWindow, codecs, sessionId, bytes(p, NONCE_SIZE));
  }

  private Frame decodeData(ByteBuf p) {
    int crc = p.readInt();
    boolean lz4 = (flags & FLAG_COMPRESSED) != 0;
    int uncompressedLength = lz4 ? positiveInt(p) : p.readableBytes();
    if (!p.isReadable()) {
      throw malformed("empty DATA frame");
    }
    return new Frame.Data(channel, lz4, crc, uncompressedLength, BufferInternal.buffer(p.readSlice(p.readableBytes())));
  }

  /** The next {@code n} received bytes, holding a reference of their own (the caller releases them). */
  private ByteBuf take(int n) {
    readable -= n;
    ByteBuf first = chunks.peekFirst();
    if (first.readableBytes() >= n) {
      ByteBuf slice = first.readRetainedSlice(n);
      if (!first.isReadable()) {
        chunks.pollFirst().release();
      }
      return slice;
    }
    CompositeByteBuf composite = Unpooled.compositeBuffer(Math.max(2, chunks.size()));
    while (n > 0) {
      ByteBuf chunk = chunks.peekFirst();
      int piece = Math.min(n, chunk.readableBytes());
      composite.addComponent(true, chunk.readRetainedSlice(piece));
      n -= piece;
      if (!chunk.isReadable()) {
        chunks.pollFirst().release();
      }
    }
    return composite;
  }

  private void fail(ProtocolError error, String message) {
    stop();
    handler.onDecodeError(error, message);
  }

  private static Buffer bytes(ByteBuf p, int n) {
    need(p, n);
    Buffer copy = Buffer.buffer(ByteBufUtil.getBytes(p, p.readerIndex(), n));
    p.skipBytes(n);
    return copy;
  }

  private static String string(ByteBuf p, int n) {
    need(p, n);
    String s = p.toString(p.readerIndex(), n, StandardCharsets.UTF_8);
    p.skipBytes(n);
    return s;
  }

  private static List<String> strings(ByteBuf p) {
    int count = p.readUnsignedByte();
    List<String> result = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      result.add(string(p, p.readUnsignedByte()));
    }
    return List.copyOf(result);
  }

  private static String message(ByteBuf p) {
    if (p.readableBytes() > MAX_MESSAGE_BYTES) {
      throw malformed("message longer than " + MAX_MESSAGE_BYTES + " bytes");
    }
    return string(p, p.readableBytes());
  }

  private static int positiveInt(ByteBuf p) {
    long value = p.readUnsignedInt();
    if (value == 0 || value > Integer.MAX_VALUE) {
      throw malformed("value " + value + " out of range 1.." + Integer.MAX_VALUE);
    }
    return (int) value;
  }

  private static long nonNegativeLong(ByteBuf p) {
    long value = p.readLong();
    if (value < 0) {
      throw malformed("negative length");
    }
    return value;
  }

  private static void need(ByteBuf p, int n) {
    if (p.readableBytes() < n) {
      throw malformed("truncated payload");
    }
  }

  private static DecodeException malformed(String message) {
    return new DecodeException(ProtocolError.MALFORMED_FRAME, message);
  }

  /** Internal control flow for a protocol error; never leaves {@link #handle}. */
  private static final class DecodeException extends RuntimeException {
    private final ProtocolError error;

    DecodeException(ProtocolError error, String message) {
      super(message, null, false, false);
      this.error = error;
    }
  }
}
