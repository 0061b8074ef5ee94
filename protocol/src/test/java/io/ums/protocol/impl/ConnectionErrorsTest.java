package io.ums.protocol.impl;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.protocol.IncomingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.TestPeers;
import io.ums.protocol.UmsClientOptions;
import io.ums.protocol.UmsProtocolException;
import io.ums.protocol.UmsServerOptions;
import io.ums.protocol.codec.Frame;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** An authenticated raw peer misbehaves after the handshake; the real server answers per PROTOCOL.md. */
@ExtendWith(VertxExtension.class)
class ConnectionErrorsTest {
  private static final int WINDOW = 64 * 1024;
  private final Promise<Throwable> serverChannelError = Promise.promise();
  private final Promise<IncomingChannel> serverChannel = Promise.promise();
  private RawPeer peer;

  @BeforeEach
  void connect(Vertx vertx, VertxTestContext test) {
    UmsServerOptions options = new UmsServerOptions().setInitialWindow(WINDOW).setMaxChannels(2)
        .setMaxMetadataSize(100).setIdleTimeout(Duration.ofSeconds(2)).setPingInterval(Duration.ofMillis(300)).setCompressionCodecs(Set.of());
    TestPeers.start(vertx, options, new UmsClientOptions(), connection -> connection.channelHandler(channel -> {
      channel.pause(); // consume nothing: no credit goes back
      channel.exceptionHandler(serverChannelError::tryComplete);
      serverChannel.tryComplete(channel);
    })).compose(peers -> RawPeer.connect(vertx, peers.port())).compose(raw -> {
      peer = raw;
      return raw.handshake(TestPeers.SESSION, TestPeers.TOKEN, List.of());
    }).onComplete(test.succeedingThenComplete());
  }

  private static Frame.Data data(int channel, Buffer bytes) {
    return new Frame.Data(channel, false, Crc32c.of(bytes), bytes.length(), bytes);
  }

  private Future<Frame.Pong> stillAlive() {
    peer.send(new Frame.Ping(99));
    return peer.next(Frame.Pong.class);
  }

  @Test
  void dataOnAnUnopenedChannelIsUnknownChannel(VertxTestContext test) {
    peer.send(data(7, Buffer.buffer("hello")));
    peer.error().compose(error -> peer.closed().map(error)).onComplete(test.succeeding(error -> test.verify(() -> {
      assertThat(error.code()).isEqualTo(ProtocolError.UNKNOWN_CHANNEL);
      test.completeNow();
    })));
  }

  @Test
  void dataBeyondCreditResetsOnlyThatChannel(VertxTestContext test) {
    peer.send(new Frame.Open(1, false, "pages", Buffer.buffer("{}")));
    peer.send(data(1, Buffer.buffer(new byte[40_000])));
    peer.send(data(1, Buffer.buffer(new byte[40_000])));
    peer.reset(1).compose(reset -> serverChannelError.future().map(error -> {
      assertThat(reset.code()).isEqualTo(ProtocolError.FLOW_CONTROL_VIOLATION);
      assertThat(((UmsProtocolException) error).error()).isEqualTo(ProtocolError.FLOW_CONTROL_VIOLATION);
      return null;
    })).compose(v -> stillAlive()).onComplete(test.succeedingThenComplete());
  }

  @Test
  void corruptedDataFrameIsChecksumMismatch(VertxTestContext test) {
    peer.send(new Frame.Open(1, false, "pages", Buffer.buffer("{}")));
    Buffer bytes = Buffer.buffer("some bytes");
    peer.send(new Frame.Data(1, false, Crc32c.of(bytes) ^ 1, bytes.length(), bytes));
    peer.reset(1).onComplete(test.succeeding(reset -> test.verify(() -> {
      assertThat(reset.code()).isEqualTo(ProtocolError.CHECKSUM_MISMATCH);
      test.completeNow();
    })));
  }

  @Test
  void closeWithWrongChannelChecksumIsChecksumMismatch(VertxTestContext test) {
    Buffer bytes = Buffer.buffer("all the bytes");
    peer.send(new Frame.Open(1, false, "pages", Buffer.buffer("{}")));
    peer.send(data(1, bytes));
    peer.send(new Frame.Close(1, bytes.length(), Crc32c.of(bytes) + 1));
    peer.reset(1).onComplete(test.succeeding(reset -> test.verify(() -> {
      assertThat(reset.code()).isEqualTo(ProtocolError.CHECKSUM_MISMATCH);
      test.completeNow();
    })));
  }

  @Test
  void closeWithWrongLengthIsLengthMismatch(VertxTestContext test) {
    Buffer bytes = Buffer.buffer("all the bytes");
    peer.send(new Frame.Open(1, false, "pages", Buffer.buffer("{}")));
    peer.send(data(1, bytes));
    peer.send(new Frame.Close(1, bytes.length() + 1, Crc32c.of(bytes)));
    peer.reset(1).onComplete(test.succeeding(reset -> test.verify(() -> {
      assertThat(reset.code()).isEqualTo(ProtocolError.LENGTH_MISMATCH);
      test.completeNow();
    })));
  }

  @Test
  void verifiedCloseIsAcknowledgedOnceConsumed(VertxTestContext test) {
    Buffer bytes = Buffer.buffer("all the bytes");
    CRC32C crc = new CRC32C();
    Crc32c.update(crc, bytes);
    peer.send(new Frame.Open(1, false, "pages", Buffer.buffer("{\"n\":1}")));
    peer.send(data(1, bytes));
    peer.send(new Frame.Close(1, bytes.length(), (int) crc.getValue()));
    serverChannel.future().compose(channel -> {
      assertThat(channel.metadata().getInteger("n")).isEqualTo(1);
      Promise<Buffer> got = Promise.promise();
      Buffer all = Buffer.buffer();
      channel.handler(all::appendBuffer).endHandler(v -> got.complete(all));
      // still paused: nothing may be acknowledged yet
      assertThat(peer.received()).noneMatch(f -> f instanceof Frame.CloseAck);
      channel.resume();
      return got.future();
    }).compose(all -> peer.next(Frame.CloseAck.class).map(all)).onComplete(test.succeeding(all -> test.verify(() -> {
      assertThat(all).isEqualTo(bytes);
      test.completeNow();
    })));
  }

  @Test
  void tooManyChannelsAreRefusedWithChannelLimit(VertxTestContext test) {
    peer.send(new Frame.Open(1, false, "a", Buffer.buffer("{}")));
    peer.send(new Frame.Open(3, false, "b", Buffer.buffer("{}")));
    peer.send(new Frame.Open(5, false, "c", Buffer.buffer("{}")));
    peer.reset(5).onComplete(test.succeeding(reset -> test.verify(() -> {
      assertThat(reset.code()).isEqualTo(ProtocolError.CHANNEL_LIMIT);
      test.completeNow();
    })));
  }

  @Test
  void oversizedMetadataIsRefused(VertxTestContext test) {
    peer.send(new Frame.Open(1, false, "a", Buffer.buffer("{\"x\":\"" + "y".repeat(200) + "\"}")));
    peer.reset(1).onComplete(test.succeeding(reset -> test.verify(() -> {
      assertThat(reset.code()).isEqualTo(ProtocolError.METADATA_TOO_LARGE);
      test.completeNow();
    })));
  }

  @Test
  void compressionThatWasNotNegotiatedIsRefused(VertxTestContext test) {
    peer.send(new Frame.Open(1, true, "a", Buffer.buffer("{}")));
    peer.reset(1).onComplete(test.succeeding(reset -> test.verify(() -> {
      assertThat(reset.code()).isEqualTo(ProtocolError.COMPRESSION_ERROR);
      test.completeNow();
    })));
  }

  @Test
  void openWithTheServersIdParityIsMalformed(VertxTestContext test) {
    peer.send(new Frame.Open(2, false, "a", Buffer.buffer("{}")));
    peer.error().onComplete(test.succeeding(error -> test.verify(() -> {
      assertThat(error.code()).isEqualTo(ProtocolError.MALFORMED_FRAME);
      test.completeNow();
    })));
  }

  @Test
  void secondHelloAfterTheHandshakeIsMalformed(VertxTestContext test) {
    peer.send(new Frame.Hello(1, 65536, 65536, List.of(), "x", HandshakeProofs.nonce()));
    peer.error().onComplete(test.succeeding(error -> test.verify(() -> {
      assertThat(error.code()).isEqualTo(ProtocolError.MALFORMED_FRAME);
      test.completeNow();
    })));
  }

  @Test
  void silentPeerIsDroppedWithIdleTimeoutAfterBeingPinged(VertxTestContext test) {
    // the peer answers nothing, not even the server's PINGs
    peer.error().onComplete(test.succeeding(error -> test.verify(() -> {
      assertThat(error.code()).isEqualTo(ProtocolError.IDLE_TIMEOUT);
      assertThat(peer.received()).anyMatch(f -> f instanceof Frame.Ping);
      test.completeNow();
    })));
  }
}
