package io.ums.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Endings the agent relies on: GOAWAY, a reset by the receiver, a connection that dies mid-channel. */
@ExtendWith(VertxExtension.class)
class LifecycleTest {
  private static final long MIB = 1024 * 1024;

  @Test
  void goAwayLetsTheOpenChannelFinishRefusesNewOnesThenCloses(Vertx vertx, VertxTestContext test) {
    Promise<Long> received = Promise.promise();
    Promise<Void> serverSawClose = Promise.promise();
    TestPeers.start(vertx, new UmsServerOptions(), new UmsClientOptions(), connection -> {
      connection.closeHandler(serverSawClose::tryComplete);
      connection.channelHandler(channel -> {
        long[] count = {0};
        channel.handler(bytes -> count[0] += bytes.length());
        channel.endHandler(v -> received.complete(count[0]));
      });
    }).compose(TestPeers::connect).compose(connection ->
        connection.openChannel("pages", new JsonObject()).compose(channel -> {
          Future<Void> goneAway = connection.goAway(ProtocolError.CANCELLED, "draining");
          Future<OutgoingChannel> refused = connection.openChannel("late", new JsonObject());
          return TestData.send(channel, 4 * MIB, false)
              .compose(crc -> refused.transform(ar -> {
                assertThat(ar.failed()).isTrue();
                assertThat(((UmsProtocolException) ar.cause()).error()).isEqualTo(ProtocolError.GOING_AWAY);
                return goneAway;
              }))
              .compose(v -> received.future())
              .compose(count -> serverSawClose.future().map(count));
        }))
        .onComplete(test.succeeding(count -> test.verify(() -> {
          assertThat(count).isEqualTo(4 * MIB);
          test.completeNow();
        })));
  }

  @Test
  void receiverResetFailsTheSendersEnd(Vertx vertx, VertxTestContext test) {
    TestPeers.start(vertx, new UmsServerOptions(), new UmsClientOptions(), connection ->
        connection.channelHandler(channel -> channel.handler(bytes ->
            channel.reset(ProtocolError.CANCELLED, "disk full"))))
        .compose(TestPeers::connect)
        .compose(connection -> connection.openChannel("pages", new JsonObject()))
        .compose(channel -> {
          channel.write(Buffer.buffer("first bytes"));
          return channel.end();
        })
        .onComplete(test.failing(error -> test.verify(() -> {
          assertThat(((UmsProtocolException) error).error()).isEqualTo(ProtocolError.CANCELLED);
          assertThat(error).hasMessageContaining("disk full");
          test.completeNow();
        })));
  }

  @Test
  void aReceiverHandlerThatThrowsFailsOnlyItsChannel(Vertx vertx, VertxTestContext test) {
    Promise<Throwable> brokenChannelError = Promise.promise();
    Promise<Long> goodChannelReceived = Promise.promise();
    TestPeers.start(vertx, new UmsServerOptions(), new UmsClientOptions(), connection ->
        connection.channelHandler(channel -> {
          switch (channel.kind()) {
            case "throws-on-open" -> throw new IllegalStateException("no consumer for " + channel.kind());
            case "throws-on-data" -> {
              channel.exceptionHandler(brokenChannelError::tryComplete);
              channel.handler(bytes -> {
                throw new IllegalStateException("disk gone");
              });
            }
            default -> {
              long[] count = {0};
              channel.handler(bytes -> count[0] += bytes.length());
              channel.endHandler(v -> goodChannelReceived.complete(count[0]));
            }
          }
        }))
        .compose(TestPeers::connect)
        .compose(connection -> Future.all(
                sendAndEnd(connection, "throws-on-open"),
                sendAndEnd(connection, "throws-on-data"))
            .transform(ignored -> connection.openChannel("good", new JsonObject()).compose(channel -> TestData.send(channel, 4 * MIB, false)))
            .map(crc -> connection))
        .compose(connection -> Future.all(brokenChannelError.future(), goodChannelReceived.future()).map(all -> {
          Throwable serverSide = all.resultAt(0);
          test.verify(() -> {
            assertThat(((UmsProtocolException) serverSide).error()).isEqualTo(ProtocolError.INTERNAL);
            assertThat(serverSide).hasRootCauseMessage("disk gone");
            assertThat((Long) all.resultAt(1)).isEqualTo(4 * MIB);
            assertThat(connection.stats().openChannels()).isZero();
          });
          return connection;
        }))
        .onComplete(test.succeedingThenComplete());
  }

  private static Future<Void> sendAndEnd(UmsConnection connection, String name) {
    return connection.openChannel(name, new JsonObject()).compose(channel -> {
      channel.write(Buffer.buffer("some bytes"));
      return channel.end();
    }).transform(ar -> {
      assertThat(ar.failed()).as(name + " must fail").isTrue();
      assertThat(((UmsProtocolException) ar.cause()).error()).isEqualTo(ProtocolError.INTERNAL);
      assertThat(ar.cause()).hasMessageContaining("the receiving application failed");
      return Future.succeededFuture();
    });
  }

  @Test
  void connectionLossFailsBothEndsWithConnectionLost(Vertx vertx, VertxTestContext test) {
    Promise<Throwable> receiverError = Promise.promise();
    Promise<UmsConnection> serverConnection = Promise.promise();
    Promise<Void> channelArrived = Promise.promise();
    TestPeers.start(vertx, new UmsServerOptions(), new UmsClientOptions(), connection -> {
      serverConnection.tryComplete(connection);
      connection.channelHandler(channel -> {
        channel.pause();
        channel.exceptionHandler(receiverError::tryComplete);
        channelArrived.complete();
      });
    }).compose(TestPeers::connect)
        .compose(connection -> connection.openChannel("pages", new JsonObject()))
        .compose(channel -> {
          channel.write(Buffer.buffer("some bytes"));
          Future<Void> end = channel.end();
          // close only once the server holds the channel, so both ends have something to lose
          return channelArrived.future().compose(v -> serverConnection.future()).compose(UmsConnection::close)
              .compose(v -> end.transform(ar -> Future.succeededFuture(ar.cause())));
        })
        .compose(senderError -> receiverError.future().map(receiver -> new Throwable[] {senderError, receiver}))
        .onComplete(test.succeeding(errors -> test.verify(() -> {
          assertThat(((UmsProtocolException) errors[0]).error()).isEqualTo(ProtocolError.CONNECTION_LOST);
          assertThat(((UmsProtocolException) errors[1]).error()).isEqualTo(ProtocolError.CONNECTION_LOST);
          test.completeNow();
        })));
  }
}
