package io.ums.protocol.codec;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.ums.protocol.ProtocolError;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** encode -> decode is the identity for every frame type, whatever the split of the byte stream. */
class FrameCodecPropertiesTest {
  private static final int MAX_FRAME = 64 * 1024;

  @Property(tries = 300)
  void everyFrameSurvivesAnySplit(@ForAll("frameLists") List<Frame> frames,
      @ForAll @Size(max = 20) List<@IntRange(min = 1, max = 5000) Integer> cuts) {
    Buffer stream = FrameEncoder.magic();
    for (Frame frame : frames) {
      stream.appendBuffer(FrameEncoder.encode(frame));
    }
    List<Frame> decoded = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    FrameDecoder decoder = new FrameDecoder(MAX_FRAME, true, collect(decoded, errors));
    int position = 0;
    for (int cut : cuts) {
      int end = Math.min(stream.length(), position + cut);
      decoder.handle(stream.slice(position, end));
      position = end;
    }
    decoder.handle(stream.slice(position, stream.length()));

    assertThat(errors).isEmpty();
    assertThat(decoded).hasSameSizeAs(frames);
    for (int i = 0; i < frames.size(); i++) {
      assertThat(normalize(decoded.get(i))).isEqualTo(normalize(frames.get(i)));
    }
    assertThat(decoder.bufferedBytes()).isZero();
  }

  @Property(tries = 50)
  void oneByteAtATime(@ForAll("frames") Frame frame) {
    Buffer stream = FrameEncoder.magic().appendBuffer(FrameEncoder.encode(frame));
    List<Frame> decoded = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    FrameDecoder decoder = new FrameDecoder(MAX_FRAME, true, collect(decoded, errors));
    for (int i = 0; i < stream.length(); i++) {
      decoder.handle(stream.slice(i, i + 1));
    }
    assertThat(errors).isEmpty();
    assertThat(decoded).hasSize(1);
    assertThat(normalize(decoded.get(0))).isEqualTo(normalize(frame));
  }

  /**
   * The socket's own pooled, reference-counted read buffers, split anywhere: every frame decodes as from heap
   * buffers, and every read buffer is released exactly once (a second release, or a read after the release,
   * throws under the PARANOID leak detector and fails the decoder). A DATA payload is only valid during
   * onFrame, so frames are normalized there.
   */
  @Property(tries = 200)
  void pooledReadsAreReleasedExactlyOnce(@ForAll("frameLists") List<Frame> frames,
      @ForAll @Size(max = 20) List<@IntRange(min = 1, max = 5000) Integer> cuts,
      @ForAll @IntRange(min = 0, max = 25) int stopAfter) {
    ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    Buffer stream = FrameEncoder.magic();
    for (Frame frame : frames) {
      stream.appendBuffer(FrameEncoder.encode(frame));
    }
    List<ByteBuf> reads = pooledReads(stream, cuts);
    List<String> decoded = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    FrameDecoder decoder = new FrameDecoder(MAX_FRAME, true, new FrameHandler() {
      @Override
      public void onFrame(Frame frame) {
        decoded.add(normalize(frame));
      }

      @Override
      public void onDecodeError(ProtocolError error, String message) {
        errors.add(error + ": " + message);
      }
    });
    boolean stopped = stopAfter < reads.size();
    for (int i = 0; i < reads.size(); i++) {
      if (i == stopAfter) {
        decoder.stop();
      }
      decoder.receive(reads.get(i));
    }

    assertThat(errors).isEmpty();
    assertThat(reads).allSatisfy(read -> assertThat(read.refCnt()).isZero());
    List<String> expected = frames.stream().map(FrameCodecPropertiesTest::normalize).toList();
    if (stopped) {
      assertThat(decoded).isEqualTo(expected.subList(0, decoded.size()));
    } else {
      assertThat(decoded).isEqualTo(expected);
      assertThat(decoder.bufferedBytes()).isZero();
    }
  }

  private static List<ByteBuf> pooledReads(Buffer stream, List<Integer> cuts) {
    List<ByteBuf> reads = new ArrayList<>();
    int position = 0;
    for (int i = 0; i <= cuts.size() && position < stream.length(); i++) {
      int end = i == cuts.size() ? stream.length() : Math.min(stream.length(), position + cuts.get(i));
      reads.add(PooledByteBufAllocator.DEFAULT.directBuffer(end - position).writeBytes(stream.getBytes(position, end)));
      position = end;
    }
    return reads;
  }

  static FrameHandler collect(List<Frame> frames, List<String> errors) {
    return new FrameHandler() {
      @Override
      public void onFrame(Frame frame) {
        frames.add(frame);
      }

      @Override
      public void onDecodeError(ProtocolError error, String message) {
        errors.add(error + ": " + message);
      }
    };
  }

  /** The frame's type and components, buffers as hex: decoded slices and composites compare by content. */
  private static String normalize(Frame frame) {
    List<String> hex = new ArrayList<>();
    for (var component : frame.getClass().getRecordComponents()) {
      try {
        Object value = component.getAccessor().invoke(frame);
        if (value instanceof Buffer b) {
          hex.add(io.netty.buffer.ByteBufUtil.hexDump(b.getBytes()));
        } else {
          hex.add(String.valueOf(value));
        }
      } catch (ReflectiveOperationException e) {
        throw new AssertionError(e);
      }
    }
    return frame.getClass().getSimpleName() + hex;
  }

  @Provide
  Arbitrary<List<Frame>> frameLists() {
    return frames().list().ofMaxSize(12);
  }

  @Provide
  Arbitrary<Frame> frames() {
    Arbitrary<Integer> channel = Arbitraries.integers().between(1, Integer.MAX_VALUE);
    Arbitrary<Integer> positive = Arbitraries.integers().between(1, Integer.MAX_VALUE);
    Arbitrary<String> text = Arbitraries.strings().withCharRange(' ', '\uD7FF').ofMaxLength(40);
    Arbitrary<String> codec = Arbitraries.strings().alpha().ofMinLength(1).ofMaxLength(10);
    Arbitrary<List<String>> codecs = codec.list().ofMaxSize(4);
    Arbitrary<Buffer> nonce = bytes(32, 32);
    Arbitrary<ProtocolError> error = Arbitraries.of(ProtocolError.class);
    return Arbitraries.oneOf(
        Combinators.combine(Arbitraries.integers().between(0, 65535), positive, positive, codecs, text, nonce)
            .as(Frame.Hello::new),
        Combinators.combine(Arbitraries.integers().between(0, 65535), nonce, codecs).as(Frame.Challenge::new),
        nonce.map(Frame.Auth::new),
        Combinators.combine(positive, positive, nonce).as(Frame.Accept::new),
        Combinators.combine(channel, Arbitraries.of(true, false), text, bytes(0, 300)).as(Frame.Open::new),
        Combinators.combine(channel, Arbitraries.integers(), bytes(1, 20_000))
            .as((id, crc, payload) -> new Frame.Data(id, false, crc, payload.length(), payload)),
        Combinators.combine(channel, Arbitraries.integers(), positive, bytes(1, 2000))
            .as((id, crc, length, payload) -> new Frame.Data(id, true, crc, length, payload)),
        Combinators.combine(channel, positive).as(Frame.Credit::new),
        Combinators.combine(channel, Arbitraries.longs().between(0, Long.MAX_VALUE), Arbitraries.integers())
            .as(Frame.Close::new),
        channel.map(Frame.CloseAck::new),
        Combinators.combine(channel, error, text).as(Frame.Reset::new),
        Arbitraries.longs().map(Frame.Ping::new),
        Arbitraries.longs().map(Frame.Pong::new),
        Combinators.combine(Arbitraries.integers(), error, text).as(Frame.GoAway::new),
        Combinators.combine(error, text).as(Frame.Error::new));
  }

  private static Arbitrary<Buffer> bytes(int min, int max) {
    return Arbitraries.bytes().array(byte[].class).ofMinSize(min).ofMaxSize(max).map(Buffer::buffer);
  }
}
