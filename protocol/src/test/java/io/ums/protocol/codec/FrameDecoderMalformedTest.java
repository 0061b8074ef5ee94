package io.ums.protocol.codec;

import static io.ums.protocol.codec.FrameCodecPropertiesTest.collect;
import static org.assertj.core.api.Assertions.assertThat;

import io.ums.protocol.ProtocolError;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/** Broken byte streams end in exactly one defined error, never an exception, a hang or a big buffer. */
class FrameDecoderMalformedTest {
  private static final int MAX_FRAME = 64 * 1024;

  private final List<Frame> frames = new ArrayList<>();
  private final List<String> errors = new ArrayList<>();
  private final FrameDecoder decoder = new FrameDecoder(MAX_FRAME, true, collect(frames, errors));

  @Property(tries = 500)
  void randomBytesGiveAtMostOneErrorAndBoundedBuffering(@ForAll @Size(max = 4000) byte[] garbage,
      @ForAll boolean afterMagic, @ForAll @IntRange(min = 1, max = 700) int chunk) {
    List<Frame> decoded = new ArrayList<>();
    List<String> reported = new ArrayList<>();
    FrameDecoder fresh = new FrameDecoder(MAX_FRAME, true, collect(decoded, reported));
    Buffer stream = afterMagic ? FrameEncoder.magic().appendBytes(garbage) : Buffer.buffer(garbage);
    for (int i = 0; i < stream.length(); i += chunk) {
      fresh.handle(stream.slice(i, Math.min(stream.length(), i + chunk)));
      assertThat(fresh.bufferedBytes()).isLessThanOrEqualTo(MAX_FRAME + FrameType.HEADER_SIZE + chunk);
    }
    assertThat(reported).hasSizeLessThanOrEqualTo(1);
    if (!afterMagic && garbage.length >= 4 && Buffer.buffer(garbage).getInt(0) != FrameType.MAGIC) {
      assertThat(reported).singleElement().asString().startsWith(ProtocolError.BAD_MAGIC.name());
      assertThat(decoded).isEmpty();
    }
  }

  @Test
  void garbageInsteadOfMagicIsBadMagic() {
    decoder.handle(Buffer.buffer("GET / HTTP/1.1\r\n\r\n"));
    assertThat(errors).singleElement().asString().startsWith("BAD_MAGIC");
  }

  @Test
  void truncatedFrameWaitsWithoutErrorAndKeepsOnlyItsBytes() {
    Buffer frame = FrameEncoder.encode(new Frame.Ping(7));
    decoder.handle(FrameEncoder.magic().appendBuffer(frame.slice(0, frame.length() - 1)));
    assertThat(frames).isEmpty();
    assertThat(errors).isEmpty();
    assertThat(decoder.bufferedBytes()).isEqualTo(frame.length() - 1 - FrameType.HEADER_SIZE); // header already parsed
    decoder.handle(frame.slice(frame.length() - 1, frame.length()));
    assertThat(frames).containsExactly(new Frame.Ping(7));
  }

  @Test
  void oversizedLengthIsRefusedFromTheHeaderAlone() {
    Buffer header = header(0xFFFF_FFF0L, FrameType.DATA, 0, 1);
    decoder.handle(FrameEncoder.magic().appendBuffer(header));
    assertThat(errors).singleElement().asString().startsWith("FRAME_TOO_LARGE");
    assertThat(decoder.bufferedBytes()).isZero();
  }

  @Test
  void lengthJustAboveTheLimitIsTooLarge() {
    decoder.handle(FrameEncoder.magic().appendBuffer(header(MAX_FRAME + 1, FrameType.DATA, 0, 1)));
    assertThat(errors).singleElement().asString().startsWith("FRAME_TOO_LARGE");
  }

  @Test
  void unknownTypeIsReported() {
    decoder.handle(FrameEncoder.magic().appendBuffer(header(0, 0x7f, 0, 0)));
    assertThat(errors).singleElement().asString().startsWith("UNKNOWN_FRAME_TYPE");
  }

  @Test
  void channelFrameOnChannelZeroAndConnectionFrameOnAChannelAreMalformed() {
    decoder.handle(FrameEncoder.magic().appendBuffer(header(4, FrameType.CREDIT, 0, 0)).appendInt(1));
    assertThat(errors).singleElement().asString().startsWith("MALFORMED_FRAME");

    List<String> otherErrors = new ArrayList<>();
    FrameDecoder other = new FrameDecoder(MAX_FRAME, true, collect(new ArrayList<>(), otherErrors));
    other.handle(FrameEncoder.magic().appendBuffer(header(8, FrameType.PING, 0, 3)).appendLong(1));
    assertThat(otherErrors).singleElement().asString().startsWith("MALFORMED_FRAME");
  }

  @Test
  void wrongPayloadSizesAreMalformed() {
    decoder.handle(FrameEncoder.magic().appendBuffer(header(3, FrameType.CREDIT, 0, 5)).appendBytes(new byte[3]));
    assertThat(errors).singleElement().asString().startsWith("MALFORMED_FRAME");
  }

  @Test
  void zeroCreditAndEmptyDataAreMalformed() {
    decoder.handle(FrameEncoder.magic().appendBuffer(header(4, FrameType.CREDIT, 0, 5)).appendInt(0));
    assertThat(errors).singleElement().asString().startsWith("MALFORMED_FRAME");

    List<String> otherErrors = new ArrayList<>();
    FrameDecoder other = new FrameDecoder(MAX_FRAME, true, collect(new ArrayList<>(), otherErrors));
    other.handle(FrameEncoder.magic().appendBuffer(header(4, FrameType.DATA, 0, 5)).appendInt(0));
    assertThat(otherErrors).singleElement().asString().startsWith("MALFORMED_FRAME");
  }

  @Test
  void reservedBitsAndUnknownFlagsAreMalformed() {
    Buffer reserved = header(8, FrameType.PING, 0, 0).setShort(6, (short) 1).appendLong(1);
    decoder.handle(FrameEncoder.magic().appendBuffer(reserved));
    assertThat(errors).singleElement().asString().startsWith("MALFORMED_FRAME");

    List<String> otherErrors = new ArrayList<>();
    FrameDecoder other = new FrameDecoder(MAX_FRAME, true, collect(new ArrayList<>(), otherErrors));
    other.handle(FrameEncoder.magic().appendBuffer(header(8, FrameType.PING, 0x80, 0)).appendLong(1));
    assertThat(otherErrors).singleElement().asString().startsWith("MALFORMED_FRAME");
  }

  @Test
  void afterAnErrorEverythingIsIgnored() {
    decoder.handle(FrameEncoder.magic().appendBuffer(header(0, 0x7f, 0, 0)));
    decoder.handle(FrameEncoder.encode(new Frame.Ping(1)));
    decoder.handle(FrameEncoder.encode(new Frame.Ping(2)));
    assertThat(errors).hasSize(1);
    assertThat(frames).isEmpty();
    assertThat(decoder.failed()).isTrue();
  }

  @Test
  void helloWithWrongInnerMagicIsBadMagic() {
    Buffer hello = FrameEncoder.encode(new Frame.Hello(1, MAX_FRAME, MAX_FRAME, List.of(), "s",
        Buffer.buffer(new byte[32])));
    hello.setInt(FrameType.HEADER_SIZE, 0x12345678);
    decoder.handle(FrameEncoder.magic().appendBuffer(hello));
    assertThat(errors).singleElement().asString().startsWith("BAD_MAGIC");
  }

  static Buffer header(long length, int type, int flags, int channel) {
    return Buffer.buffer().appendUnsignedInt(length).appendUnsignedByte((short) type)
        .appendUnsignedByte((short) flags).appendShort((short) 0).appendInt(channel);
  }
}
