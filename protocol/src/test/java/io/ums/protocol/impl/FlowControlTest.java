package io.ums.protocol.impl;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.TestData;
import io.ums.protocol.TestPeers;
import io.ums.protocol.UmsClientOptions;
import io.ums.protocol.UmsServerOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Two channels on one real connection: a paused reader must not stall a flowing one. */
@ExtendWith(VertxExtension.class)
class FlowControlTest {
  private static final int WINDOW = 256 * 1024;
  private static final long BYTES = 32L * 1024 * 1024;

  @Test
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void pausedChannelHoldsAtMostItsWindowWhileTheFastOneCompletes(Vertx vertx, VertxTestContext test) {
    Promise<IncomingChannelImpl> slowIncoming = Promise.promise();
    Promise<Long> fastReceived = Promise.promise();
    Promise<Long> slowReceived = Promise.promise();
    AtomicLong fastBytes = new AtomicLong();
    AtomicLong slowBytes = new AtomicLong();

    UmsServerOptions serverOptions = new UmsServerOptions().setInitialWindow(WINDOW);
    TestPeers.start(vertx, serverOptions, new UmsClientOptions(), connection -> connection.channelHandler(channel -> {
      boolean slow = channel.kind().equals("slow");
      if (slow) {
        channel.pause();
        slowIncoming.complete((IncomingChannelImpl) channel);
      }
      AtomicLong counter = slow ? slowBytes : fastBytes;
      Promise<Long> done = slow ? slowReceived : fastReceived;
      channel.handler(bytes -> counter.addAndGet(bytes.length()));
      channel.endHandler(v -> done.complete(counter.get()));
      channel.exceptionHandler(done::tryFail);
    })).compose(TestPeers::connect).compose(connection -> {
      Future<OutgoingChannel> slowChannel = connection.openChannel("slow", new JsonObject());
      Future<OutgoingChannel> fastChannel = connection.openChannel("fast", new JsonObject());
      return Future.all(slowChannel, fastChannel).compose(both -> {
        Future<Long> slowSent = TestData.send(slowChannel.result(), BYTES, false);
        Future<Long> fastSent = TestData.send(fastChannel.result(), BYTES, false);
        return fastSent.compose(v -> fastReceived.future()).compose(fast -> slowIncoming.future().map(incoming -> {
          assertThat(fast).isEqualTo(BYTES);
          assertThat(slowBytes).hasValue(0);
          assertThat(incoming.bufferedBytes()).isPositive().isLessThanOrEqualTo(WINDOW);
          assertThat(slowSent.isComplete()).isFalse();
          assertThat(slowChannel.result().writeQueueFull()).isTrue();
          incoming.resume();
          return slowSent;
        })).compose(pendingSend -> pendingSend).compose(v -> slowReceived.future());
      });
    }).onComplete(test.succeeding(slow -> test.verify(() -> {
      assertThat(slow).isEqualTo(BYTES);
      test.completeNow();
    })));
  }

  @Test
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void fetchOneAtATimeReturnsCreditOnlyForWhatWasConsumed(Vertx vertx, VertxTestContext test) {
    Promise<IncomingChannel> incoming = Promise.promise();
    AtomicLong maxBuffered = new AtomicLong();
    TestPeers.start(vertx, new UmsServerOptions().setInitialWindow(WINDOW), new UmsClientOptions(),
        connection -> connection.channelHandler(channel -> {
          channel.pause();
          incoming.complete(channel);
        })).compose(TestPeers::connect)
        .compose(connection -> connection.openChannel("pages", new JsonObject()))
        .compose(channel -> {
          Future<Long> sent = TestData.send(channel, 4L * 1024 * 1024, false);
          return incoming.future().compose(in -> {
            AtomicLong got = new AtomicLong();
            Promise<Long> ended = Promise.promise();
            in.handler(bytes -> {
              got.addAndGet(bytes.length());
              maxBuffered.accumulateAndGet(((IncomingChannelImpl) in).bufferedBytes(), Math::max);
              vertx.setTimer(1, t -> in.fetch(1));
            });
            in.endHandler(v -> ended.complete(got.get()));
            in.fetch(1);
            return Future.all(sent, ended.future()).map(all -> ended.future().result());
          });
        }).onComplete(test.succeeding(total -> test.verify(() -> {
          assertThat(total).isEqualTo(4L * 1024 * 1024);
          assertThat(maxBuffered.get()).isPositive().isLessThanOrEqualTo(WINDOW);
          test.completeNow();
        })));
  }
}
