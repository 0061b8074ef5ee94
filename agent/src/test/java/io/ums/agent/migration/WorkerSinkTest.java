package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The hand-over from the event loop to a blocking consumer on a worker thread: everything in order, a full
 * queue while the consumer is held, a drain once it caught up, and a consumer's failure on every later write and
 * on the end. The consumer is held by a latch, never by a sleep.
 */
class WorkerSinkTest {
  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() throws Exception {
    vertx.close().await(30, TimeUnit.SECONDS);
  }

  @Test
  void aHeldConsumerFillsTheQueueAndItsCatchingUpDrainsItWithEveryByteInOrder() throws Exception {
    CountDownLatch hold = new CountDownLatch(1);
    ByteArrayOutputStream taken = new ByteArrayOutputStream();
    WorkerSink sink = WorkerSink.start(vertx, 1000, chunk -> {
      awaitQuietly(hold);
      byte[] bytes = new byte[chunk.remaining()];
      chunk.duplicate().get(bytes);
      synchronized (taken) {
        taken.write(bytes, 0, bytes.length);
      }
    });
    AtomicBoolean drained = new AtomicBoolean();
    AtomicBoolean allWritten = new AtomicBoolean();
    AtomicReference<Future<Void>> ended = new AtomicReference<>();
    ByteArrayOutputStream written = new ByteArrayOutputStream();
    vertx.runOnContext(ignored -> {
      sink.drainHandler(v -> drained.set(true));
      for (int i = 0; i < 30; i++) {
        Buffer chunk = Buffer.buffer(("chunk " + i + ";").repeat(10));
        written.write(chunk.getBytes(), 0, chunk.length());
        sink.write(chunk);
      }
      allWritten.set(true);
    });
    await().atMost(Duration.ofSeconds(30)).untilTrue(allWritten);
    assertThat(sink.writeQueueFull()).as("the consumer holds most of it").isTrue();
    assertThat(drained).isFalse();

    hold.countDown();
    await().atMost(Duration.ofSeconds(30)).untilTrue(drained);
    vertx.runOnContext(ignored -> ended.set(sink.end()));
    await().atMost(Duration.ofSeconds(30)).until(() -> ended.get() != null && ended.get().succeeded());
    assertThat(taken.toByteArray()).isEqualTo(written.toByteArray());
    assertThat(sink.writeQueueFull()).isFalse();
  }

  @Test
  void aConsumerThatFailsFailsTheEndAndEveryLaterWrite() {
    WorkerSink sink = WorkerSink.start(vertx, 1 << 20, chunk -> {
      throw new IllegalStateException("ctr exited");
    });
    AtomicReference<Future<Void>> ended = new AtomicReference<>();
    vertx.runOnContext(ignored -> {
      sink.write(Buffer.buffer("first"));
      ended.set(sink.end());
    });
    await().atMost(Duration.ofSeconds(30)).until(() -> ended.get() != null && ended.get().failed());
    assertThat(ended.get().cause()).hasMessage("ctr exited");
    assertThat(sink.write(Buffer.buffer("later")).failed()).isTrue();
  }

  @Test
  void aConsumerThatFailsWhileTheQueueIsFullDrainsItSoThatAPausedReaderLearnsOfTheFailure() {
    CountDownLatch hold = new CountDownLatch(1);
    WorkerSink sink = WorkerSink.start(vertx, 100, chunk -> {
      awaitQuietly(hold);
      throw new IllegalStateException("not a plain tar archive");
    });
    AtomicBoolean drained = new AtomicBoolean();
    AtomicBoolean full = new AtomicBoolean();
    vertx.runOnContext(ignored -> {
      sink.drainHandler(v -> drained.set(true));
      for (int i = 0; i < 10; i++) {
        sink.write(Buffer.buffer("0123456789abcdef0123456789abcdef"));
      }
      full.set(sink.writeQueueFull());
    });
    await().atMost(Duration.ofSeconds(30)).untilTrue(full);

    hold.countDown();
    await().atMost(Duration.ofSeconds(30)).untilTrue(drained);
    Future<Void> later = sink.write(Buffer.buffer("after the drain"));
    assertThat(later.failed()).isTrue();
    assertThat(later.cause()).hasMessage("not a plain tar archive");
  }

  @Test
  void aCancelEndsAConsumerWaitingForBytes() {
    WorkerSink sink = WorkerSink.start(vertx, 1 << 20, ByteBuffer::remaining);
    sink.cancel();
    Future<Void> ended = sink.end();
    await().atMost(Duration.ofSeconds(30)).until(ended::failed);
    assertThat(ended.cause()).hasMessageContaining("cancelled");
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
