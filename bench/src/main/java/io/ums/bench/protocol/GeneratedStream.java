package io.ums.bench.protocol;

import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import java.util.Random;

/**
 * A ReadStream of {@code total} incompressible bytes made on the fly: 64 KiB windows of one random
 * 1 MiB block (no per-chunk allocation of content, nothing held). Honours pause/fetch like a file.
 */
final class GeneratedStream implements ReadStream<Buffer> {
  static final int CHUNK = 64 * 1024;
  private static final int BLOCK = 1024 * 1024;
  private static final Buffer RANDOM_BLOCK = randomBlock();

  private final Context context;
  private final long total;
  private long emitted;
  private long index;
  private long demand = Long.MAX_VALUE;
  private boolean emitting;
  private boolean ended;
  private Handler<Buffer> handler;
  private Handler<Void> endHandler;

  GeneratedStream(Context context, long total) {
    this.context = context;
    this.total = total;
  }

  private static Buffer randomBlock() {
    byte[] bytes = new byte[BLOCK + CHUNK];
    new Random(7).nextBytes(bytes);
    return Buffer.buffer(bytes);
  }

  /** Starts emitting (after the consumer attached its handlers). */
  void start() {
    context.runOnContext(v -> emit());
  }

  private void emit() {
    if (emitting) {
      return;
    }
    emitting = true;
    try {
      while (demand > 0 && emitted < total && handler != null) {
        int size = (int) Math.min(CHUNK, total - emitted);
        int offset = (int) ((index++ * 7919L * 61) % BLOCK);
        emitted += size;
        if (demand != Long.MAX_VALUE) {
          demand--;
        }
        handler.handle(RANDOM_BLOCK.slice(offset, offset + size));
      }
      if (emitted == total && !ended) {
        ended = true;
        if (endHandler != null) {
          endHandler.handle(null);
        }
      }
    } finally {
      emitting = false;
    }
  }

  @Override
  public ReadStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
    return this;
  }

  @Override
  public ReadStream<Buffer> handler(Handler<Buffer> handler) {
    this.handler = handler;
    return this;
  }

  @Override
  public ReadStream<Buffer> pause() {
    demand = 0;
    return this;
  }

  @Override
  public ReadStream<Buffer> resume() {
    return fetch(Long.MAX_VALUE);
  }

  @Override
  public ReadStream<Buffer> fetch(long amount) {
    demand = amount == Long.MAX_VALUE || demand + amount < 0 ? Long.MAX_VALUE : demand + amount;
    context.runOnContext(v -> emit());
    return this;
  }

  @Override
  public ReadStream<Buffer> endHandler(Handler<Void> endHandler) {
    this.endHandler = endHandler;
    return this;
  }
}
