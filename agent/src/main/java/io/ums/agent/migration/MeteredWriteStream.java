package io.ums.agent.migration;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.WriteStream;

/**
 * A write stream as it is, that knows how long a writer piped into it had to wait for it (the time from a full
 * write queue to its drain): for the log of a transfer, which side was the slower. Event-loop confined.
 */
final class MeteredWriteStream implements WriteStream<Buffer> {
  private final WriteStream<Buffer> delegate;
  private long fullSinceNanos = -1;
  private long fullNanos;
  private long firstWriteNanos = -1;
  private long lastWriteNanos;

  MeteredWriteStream(WriteStream<Buffer> delegate) {
    this.delegate = delegate;
  }

  /** How long writers waited for a drain, in total. */
  long fullNanos() {
    return fullNanos;
  }

  /** From the first write to the last (the end not included). */
  long writingNanos() {
    return firstWriteNanos < 0 ? 0 : lastWriteNanos - firstWriteNanos;
  }

  @Override
  public Future<Void> write(Buffer data) {
    lastWriteNanos = System.nanoTime();
    if (firstWriteNanos < 0) {
      firstWriteNanos = lastWriteNanos;
    }
    return delegate.write(data);
  }

  @Override
  public Future<Void> end() {
    return delegate.end();
  }

  @Override
  public boolean writeQueueFull() {
    boolean full = delegate.writeQueueFull();
    if (full && fullSinceNanos < 0) {
      fullSinceNanos = System.nanoTime();
    }
    return full;
  }

  @Override
  public WriteStream<Buffer> drainHandler(Handler<Void> handler) {
    delegate.drainHandler(handler == null ? null : drained -> {
      if (fullSinceNanos >= 0) {
        fullNanos += System.nanoTime() - fullSinceNanos;
        fullSinceNanos = -1;
      }
      handler.handle(drained);
    });
    return this;
  }

  @Override
  public WriteStream<Buffer> setWriteQueueMaxSize(int maxSize) {
    delegate.setWriteQueueMaxSize(maxSize);
    return this;
  }

  @Override
  public WriteStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
    delegate.exceptionHandler(handler);
    return this;
  }
}
