package io.ums.agent.migration;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.streams.WriteStream;
import java.nio.ByteBuffer;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A stream's bytes handed to a blocking consumer (a process's stdin, a digest) on one worker thread, in order,
 * with backpressure: a reader piped here is paused while more than {@code highWaterBytes} wait for the consumer,
 * and resumed once it caught up with half of that. The buffers are handed over as they came (no copy). The
 * event loop never waits for the consumer. {@link #end()} completes once the consumer took every byte; a
 * consumer that throws fails it (and every later write) with its exception, and the bytes still queued are
 * dropped.
 */
final class WorkerSink implements WriteStream<Buffer> {
  private static final Buffer END = Buffer.buffer();
  private static final Buffer CANCEL = Buffer.buffer();

  private final Context context;
  private final Consumer<ByteBuffer> consumer;
  private final long highWaterBytes;
  private final LinkedBlockingQueue<Buffer> queue = new LinkedBlockingQueue<>();
  private final AtomicLong queuedBytes = new AtomicLong();
  private final Promise<Void> consumed = Promise.promise();
  private volatile boolean full;
  /** How long the consumer waited for bytes (the stream's producer, not the consumer, was the slower). */
  private volatile long waitedNanos;
  private volatile Throwable failure;
  private Handler<Void> drainHandler;

  private WorkerSink(Context context, Consumer<ByteBuffer> consumer, long highWaterBytes) {
    this.context = context;
    this.consumer = consumer;
    this.highWaterBytes = highWaterBytes;
  }

  /** A sink whose consumer runs from now on, on a worker thread of {@code vertx}, until the end or a cancel. */
  static WorkerSink start(Vertx vertx, long highWaterBytes, Consumer<ByteBuffer> consumer) {
    WorkerSink sink = new WorkerSink(vertx.getOrCreateContext(), consumer, highWaterBytes);
    vertx.<Void>executeBlocking(() -> {
      sink.consume();
      return null;
    }, false).onComplete(sink.consumed);
    return sink;
  }

  private void consume() throws InterruptedException {
    try {
      while (true) {
        Buffer next = queue.poll();
        if (next == null) {
          long waitStarted = System.nanoTime();
          next = queue.take();
          waitedNanos += System.nanoTime() - waitStarted;
        }
        if (next == END) {
          return;
        }
        if (next == CANCEL) {
          throw new IllegalStateException("cancelled");
        }
        consumer.accept(((BufferInternal) next).getByteBuf().nioBuffer());
        if (queuedBytes.addAndGet(-next.length()) <= highWaterBytes / 2 && full) {
          full = false;
          drain();
        }
      }
    } catch (RuntimeException | InterruptedException e) {
      failure = e;
      queue.clear();
      queuedBytes.set(0);
      // a reader paused on a full queue resumes, and its next write fails: the pipe ends with this failure
      drain();
      throw e;
    }
  }

  private void drain() {
    context.runOnContext(ignored -> {
      Handler<Void> handler = drainHandler;
      if (handler != null) {
        handler.handle(null);
      }
    });
  }

  /** How long the consumer has waited for bytes so far. */
  long waitedNanos() {
    return waitedNanos;
  }

  /** Stops the consumer after what it is doing now; {@link #end()}'s future fails. Idempotent. */
  void cancel() {
    queue.add(CANCEL);
  }

  @Override
  public Future<Void> write(Buffer data) {
    Throwable failed = failure;
    if (failed != null) {
      return Future.failedFuture(failed);
    }
    queuedBytes.addAndGet(data.length());
    queue.add(data);
    return Future.succeededFuture();
  }

  @Override
  public Future<Void> end() {
    queue.add(END);
    return consumed.future();
  }

  @Override
  public WriteStream<Buffer> setWriteQueueMaxSize(int maxSize) {
    return this;
  }

  @Override
  public boolean writeQueueFull() {
    if (queuedBytes.get() > highWaterBytes) {
      full = true;
      // the consumer may have caught up between the test and the flag: check again, else no drain would come
      if (queuedBytes.get() > highWaterBytes / 2) {
        return true;
      }
      full = false;
    }
    return false;
  }

  @Override
  public WriteStream<Buffer> drainHandler(Handler<Void> handler) {
    this.drainHandler = handler;
    return this;
  }

  @Override
  public WriteStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
    return this;
  }
}
