package io.ums.protocol.impl;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.protocol.ProtocolError;
import io.ums.protocol.TestPeers;
import io.ums.protocol.UmsClient;
import io.ums.protocol.UmsClientOptions;
import io.ums.protocol.UmsConnection;
import io.ums.protocol.UmsProtocolException;
import io.ums.protocol.UmsServerOptions;
import io.ums.protocol.codec.Frame;
import io.ums.protocol.codec.FrameEncoder;
import io.ums.protocol.codec.FrameType;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** A real server; clients that get the handshake wrong are refused with a precise ERROR and no channel. */
@ExtendWith(VertxExtension.class)
class HandshakeTest {
  private final AtomicInteger acceptedConnections = new AtomicInteger();
  private final AtomicInteger openedChannels = new AtomicInteger();
  /** Refusal tests: the server must never hand out a connection or a channel. */
  private boolean expectRefusal = true;

  @AfterEach
  void refusedPeersGotNoConnectionAndNoChannel() {
    if (expectRefusal) {
      assertThat(acceptedConnections).hasValue(0);
      assertThat(openedChannels).hasValue(0);
    }
  }

  private io.vertx.core.Future<TestPeers> server(Vertx vertx, UmsServerOptions options) {
    return TestPeers.start(vertx, options, new UmsClientOptions(), connection -> {
      acceptedConnections.incrementAndGet();
      connection.channelHandler(channel -> openedChannels.incrementAndGet());
    });
  }

  @Test
  void wrongTokenIsRefusedWithAuthFailed(Vertx vertx, VertxTestContext test) {
    server(vertx, new UmsServerOptions()).compose(peers ->
        UmsClient.create(vertx, new UmsClientOptions())
            .connect("127.0.0.1", peers.port(), TestPeers.SESSION, Buffer.buffer("wrong-token")))
        .onComplete(test.failing(error -> test.verify(() -> {
          assertThat(error).isInstanceOf(UmsProtocolException.class);
          assertThat(((UmsProtocolException) error).error()).isEqualTo(ProtocolError.AUTH_FAILED);
          test.completeNow();
        })));
  }

  @Test
  void unknownSessionIsRefusedWithAuthFailed(Vertx vertx, VertxTestContext test) {
    server(vertx, new UmsServerOptions()).compose(peers ->
        UmsClient.create(vertx, new UmsClientOptions())
            .connect("127.0.0.1", peers.port(), "no-such-session", TestPeers.TOKEN))
        .onComplete(test.failing(error -> test.verify(() -> {
          assertThat(((UmsProtocolException) error).error()).isEqualTo(ProtocolError.AUTH_FAILED);
          test.completeNow();
        })));
  }

  @Test
  void wrongProofGetsErrorThenCloseAndChannelsAreRefused(Vertx vertx, VertxTestContext test) {
    server(vertx, new UmsServerOptions()).compose(peers -> RawPeer.connect(vertx, peers.port())).compose(peer -> {
      peer.sendRaw(FrameEncoder.magic());
      peer.send(new Frame.Hello(FrameType.VERSION, 65536, 65536, List.of(), TestPeers.SESSION,
          HandshakeProofs.nonce()));
      return peer.next(Frame.Challenge.class).compose(challenge -> {
        peer.send(new Frame.Auth(Buffer.buffer(new byte[32])));
        peer.send(new Frame.Open(1, false, "sneaky", Buffer.buffer("{}")));
        return peer.error().compose(error -> peer.closed().map(error));
      });
    }).onComplete(test.succeeding(error -> test.verify(() -> {
      assertThat(error.code()).isEqualTo(ProtocolError.AUTH_FAILED);
      test.completeNow();
    })));
  }

  @Test
  void wrongVersionIsRefusedWithVersionMismatch(Vertx vertx, VertxTestContext test) {
    server(vertx, new UmsServerOptions()).compose(peers -> RawPeer.connect(vertx, peers.port())).compose(peer -> {
      peer.sendRaw(FrameEncoder.magic());
      peer.send(new Frame.Hello(2, 65536, 65536, List.of(), TestPeers.SESSION, HandshakeProofs.nonce()));
      return peer.error().compose(error -> peer.closed().map(error));
    }).onComplete(test.succeeding(error -> test.verify(() -> {
      assertThat(error.code()).isEqualTo(ProtocolError.VERSION_MISMATCH);
      assertThat(error.message()).contains("version 1").contains("2");
      test.completeNow();
    })));
  }

  @Test
  void garbageBeforeTheHandshakeIsBadMagic(Vertx vertx, VertxTestContext test) {
    server(vertx, new UmsServerOptions()).compose(peers -> RawPeer.connect(vertx, peers.port())).compose(peer -> {
      peer.sendRaw(Buffer.buffer("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      return peer.error().compose(error -> peer.closed().map(error));
    }).onComplete(test.succeeding(error -> test.verify(() -> {
      assertThat(error.code()).isEqualTo(ProtocolError.BAD_MAGIC);
      test.completeNow();
    })));
  }

  @Test
  void openBeforeTheHandshakeIsNotAuthenticated(Vertx vertx, VertxTestContext test) {
    server(vertx, new UmsServerOptions()).compose(peers -> RawPeer.connect(vertx, peers.port())).compose(peer -> {
      peer.sendRaw(FrameEncoder.magic());
      peer.send(new Frame.Open(1, false, "sneaky", Buffer.buffer("{}")));
      peer.send(new Frame.Data(1, false, Crc32c.of(Buffer.buffer("x")), 1, Buffer.buffer("x")));
      return peer.error().compose(error -> peer.closed().map(error));
    }).onComplete(test.succeeding(error -> test.verify(() -> {
      assertThat(error.code()).isEqualTo(ProtocolError.NOT_AUTHENTICATED);
      test.completeNow();
    })));
  }

  @Test
  void silentPeerTimesOutDuringTheHandshake(Vertx vertx, VertxTestContext test) {
    UmsServerOptions options = new UmsServerOptions().setIdleTimeout(Duration.ofMillis(300));
    server(vertx, options).compose(peers -> RawPeer.connect(vertx, peers.port())).compose(peer -> {
      peer.sendRaw(FrameEncoder.magic());
      return peer.error().compose(error -> peer.closed().map(error));
    }).onComplete(test.succeeding(error -> test.verify(() -> {
      assertThat(error.code()).isEqualTo(ProtocolError.IDLE_TIMEOUT);
      test.completeNow();
    })));
  }

  @Test
  void correctHandshakeIsAcceptedAndTheServerProvesItself(Vertx vertx, VertxTestContext test) {
    server(vertx, new UmsServerOptions())
        .compose(peers -> RawPeer.connect(vertx, peers.port()))
        .compose(peer -> peer.handshake(TestPeers.SESSION, TestPeers.TOKEN, List.of("lz4")))
        .onComplete(test.succeeding(v -> test.verify(() -> {
          expectRefusal = false;
          test.completeNow();
        })));
  }

  @Test
  void clientRefusesAServerThatCannotProveTheToken(Vertx vertx, VertxTestContext test) {
    // a fake server that answers the handshake without knowing the token
    io.vertx.core.net.NetServer impostor = vertx.createNetServer().connectHandler(socket -> {
      io.ums.protocol.codec.FrameDecoder decoder = new io.ums.protocol.codec.FrameDecoder(65536, true,
          new io.ums.protocol.codec.FrameHandler() {
            @Override
            public void onFrame(Frame frame) {
              if (frame instanceof Frame.Hello) {
                socket.write(FrameEncoder.magic().appendBuffer(FrameEncoder.encode(
                    new Frame.Challenge(FrameType.VERSION, HandshakeProofs.nonce(), List.of()))));
              } else if (frame instanceof Frame.Auth) {
                socket.write(FrameEncoder.encode(new Frame.Accept(65536, 65536, Buffer.buffer(new byte[32]))));
              }
            }

            @Override
            public void onDecodeError(ProtocolError error, String message) {
              socket.close();
            }
          });
      socket.handler(decoder);
    });
    impostor.listen(0, "127.0.0.1").compose(server ->
        UmsClient.create(vertx, new UmsClientOptions()).connect("127.0.0.1", server.actualPort(), "s", TestPeers.TOKEN))
        .onComplete(test.failing(error -> test.verify(() -> {
          assertThat(((UmsProtocolException) error).error()).isEqualTo(ProtocolError.AUTH_FAILED);
          assertThat(error).hasMessageContaining("server could not prove");
          test.completeNow();
        })));
  }

  @Test
  void realClientConnectsAndOpensAChannel(Vertx vertx, VertxTestContext test) {
    // The positive case: the refusal invariant checked after each test does not apply, and must not hide
    // this test's own failure (e.g. a handshake timing out) behind "1 connection accepted".
    expectRefusal = false;
    server(vertx, new UmsServerOptions())
        .compose(TestPeers::connect)
        .compose(connection -> connection.openChannel("ping", new io.vertx.core.json.JsonObject()).map(connection))
        .onComplete(test.succeeding(connection -> test.verify(() -> {
          assertThat(connection.sessionId()).isEqualTo(TestPeers.SESSION);
          test.completeNow();
        })));
  }
}
