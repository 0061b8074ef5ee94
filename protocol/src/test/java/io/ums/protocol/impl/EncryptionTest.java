package io.ums.protocol.impl;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.protocol.IncomingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.SessionAuthenticator;
import io.ums.protocol.TestPeers;
import io.ums.protocol.UmsClient;
import io.ums.protocol.UmsClientOptions;
import io.ums.protocol.UmsProtocolException;
import io.ums.protocol.UmsServer;
import io.ums.protocol.UmsServerOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * TLS under the UMS frames (PROTOCOL.md 2.4), with a real server and client on loopback and, between
 * them, a relay that records the bytes or one that terminates TLS with its own certificate.
 */
@ExtendWith(VertxExtension.class)
class EncryptionTest {
  /** What a checkpoint could hold: a secret the process had in memory. */
  private static final String MARKER = "SECRET-IN-THE-PAGES-7f3a9c";
  private static final Buffer PAYLOAD = payload();

  private final Promise<Buffer> received = Promise.promise();
  private TestPeers peers;

  private static Buffer payload() {
    Buffer bytes = Buffer.buffer();
    for (int i = 0; i < 2000; i++) {
      bytes.appendString("page " + i + " holds " + MARKER + "\n");
    }
    return bytes;
  }

  @BeforeEach
  void startTlsServer(Vertx vertx, VertxTestContext test) {
    TestPeers.start(vertx, new UmsServerOptions().setTls(true), new UmsClientOptions(),
        connection -> connection.channelHandler(this::collect)).onComplete(test.succeeding(started -> {
          peers = started;
          test.completeNow();
        }));
  }

  private void collect(IncomingChannel channel) {
    Buffer all = Buffer.buffer();
    channel.handler(all::appendBuffer).endHandler(v -> received.tryComplete(all));
    channel.exceptionHandler(received::tryFail);
  }

  private Future<Buffer> sendThrough(UmsClient client, int port, boolean encrypt, Buffer token) {
    return client.connect("127.0.0.1", port, TestPeers.SESSION, token, encrypt)
        .compose(connection -> connection.openChannel("pages", new JsonObject()))
        .compose(channel -> {
          channel.write(PAYLOAD);
          return channel.end();
        })
        .compose(v -> received.future());
  }

  @Test
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void anEncryptedConnectionMovesTheBytesAndAPassiveObserverSeesNoneOfThem(Vertx vertx, VertxTestContext test) {
    UmsClient client = UmsClient.create(vertx, new UmsClientOptions());
    RecordingRelay.start(vertx, peers.port()).compose(relay ->
        sendThrough(client, relay.port(), true, TestPeers.TOKEN).map(got -> {
          assertThat(got).isEqualTo(PAYLOAD);
          String onTheWire = relay.recorded().toString(StandardCharsets.ISO_8859_1);
          assertThat(relay.recorded().length()).isGreaterThan(PAYLOAD.length());
          assertThat(onTheWire).doesNotContain(MARKER).doesNotContain("pages").doesNotContain("UMSP");
          return null;
        })).onComplete(test.succeedingThenComplete());
  }

  @Test
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void aPlainConnectionToTheSameServerStillWorksAndTheObserverReadsIt(Vertx vertx, VertxTestContext test) {
    UmsClient client = UmsClient.create(vertx, new UmsClientOptions());
    RecordingRelay.start(vertx, peers.port()).compose(relay ->
        sendThrough(client, relay.port(), false, TestPeers.TOKEN).map(got -> {
          assertThat(got).isEqualTo(PAYLOAD);
          assertThat(relay.recorded().toString(StandardCharsets.ISO_8859_1)).contains(MARKER);
          return null;
        })).onComplete(test.succeedingThenComplete());
  }

  @Test
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void aWrongTokenOverTlsIsRefusedWithAuthFailed(Vertx vertx, VertxTestContext test) {
    UmsClient client = UmsClient.create(vertx, new UmsClientOptions());
    client.connect("127.0.0.1", peers.port(), TestPeers.SESSION, Buffer.buffer("not-the-token"), true)
        .onComplete(test.failing(failure -> test.verify(() -> {
          assertThat(failure).isInstanceOf(UmsProtocolException.class);
          assertThat(((UmsProtocolException) failure).error()).isEqualTo(ProtocolError.AUTH_FAILED);
          test.completeNow();
        })));
  }

  @Test
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void aRelayThatTerminatesTlsWithItsOwnCertificateCannotCompleteTheHandshake(Vertx vertx,
      VertxTestContext test) {
    UmsClient client = UmsClient.create(vertx, new UmsClientOptions());
    TlsInterceptor.start(vertx, peers.port())
        .compose(interceptor -> client.connect("127.0.0.1", interceptor.port(), TestPeers.SESSION, TestPeers.TOKEN,
            true))
        .onComplete(test.failing(failure -> test.verify(() -> {
          assertThat(failure).isInstanceOf(UmsProtocolException.class);
          assertThat(((UmsProtocolException) failure).error()).isEqualTo(ProtocolError.AUTH_FAILED);
          test.completeNow();
        })));
  }

  @Test
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void aPeerThatSendsNothingIsDroppedAfterTheIdleTimeoutBeforeTlsOrPlainIsKnown(Vertx vertx,
      VertxTestContext test) {
    UmsServerOptions options = new UmsServerOptions().setTls(true).setIdleTimeout(Duration.ofMillis(300));
    Promise<Void> closed = Promise.promise();
    // held until the end: Vert.x 5 closes an unreachable NetClient's sockets after a GC, which would pass this
    NetClient client = vertx.createNetClient();
    TestPeers.start(vertx, options, new UmsClientOptions(), connection -> { })
        .compose(server -> client.connect(server.port(), "127.0.0.1"))
        .compose(silent -> {
          silent.closeHandler(v -> closed.tryComplete());
          silent.write(Buffer.buffer("UM")); // fewer bytes than it takes to tell TLS from plain
          return closed.future();
        })
        .eventually(client::close)
        .onComplete(test.succeedingThenComplete());
  }

  @Test
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void aSessionThatInsistsOnTlsRefusesAPlainConnectionWithTlsRequiredAndStillTakesAnEncryptedOne(Vertx vertx,
      VertxTestContext test) {
    SessionAuthenticator tlsOnly = new SessionAuthenticator() {
      @Override
      public Optional<Buffer> tokenFor(String sessionId) {
        return TestPeers.SESSION.equals(sessionId) ? Optional.of(TestPeers.TOKEN) : Optional.empty();
      }

      @Override
      public boolean requiresTls(String sessionId) {
        return TestPeers.SESSION.equals(sessionId);
      }
    };
    UmsServer server = UmsServer.create(vertx, new UmsServerOptions().setTls(true)).authenticator(tlsOnly)
        .connectHandler(connection -> connection.channelHandler(this::collect));
    UmsClient client = UmsClient.create(vertx, new UmsClientOptions());
    server.listen(0, "127.0.0.1").compose(port ->
        client.connect("127.0.0.1", port, TestPeers.SESSION, TestPeers.TOKEN, false)
            .transform(plain -> {
              test.verify(() -> {
                assertThat(plain.failed()).as("a plain connection is refused").isTrue();
                assertThat(plain.cause()).isInstanceOf(UmsProtocolException.class);
                assertThat(((UmsProtocolException) plain.cause()).error()).isEqualTo(ProtocolError.TLS_REQUIRED);
                assertThat(plain.cause().getMessage()).contains("encrypted").contains(TestPeers.SESSION);
              });
              return sendThrough(client, port, true, TestPeers.TOKEN);
            }))
        .onComplete(test.succeeding(got -> test.verify(() -> {
          assertThat(got).isEqualTo(PAYLOAD);
          test.completeNow();
        })));
  }

  @Test
  @Timeout(value = 30, timeUnit = TimeUnit.SECONDS)
  void anEncryptingClientRefusesAServerWithoutTls(Vertx vertx, VertxTestContext test) {
    UmsClient client = UmsClient.create(vertx, new UmsClientOptions());
    TestPeers.start(vertx, new UmsServerOptions(), new UmsClientOptions(), connection -> { })
        .compose(plain -> client.connect("127.0.0.1", plain.port(), TestPeers.SESSION, TestPeers.TOKEN, true))
        .onComplete(test.failingThenComplete());
  }
}
