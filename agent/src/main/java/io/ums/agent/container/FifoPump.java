package io.ums.agent.container;

import io.ums.host.HostCommand;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.WriteStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Streams what a program writes into a FIFO (podman's checkpoint export) to a {@link WriteStream} as it is
 * written, with backpressure: a worker thread does the blocking reads (Vert.x's AsyncFile cannot read a
 * FIFO: it reads by position), the context does the writes and the worker waits for drain when the
 * stream's queue is full. Nothing touches a disk. Once cancelled it reads on and discards, so that the
 * writer is never left blocked.
 */
public final class FifoPump {
  private static final int CHUNK = 1 << 20;

  private FifoPump() {}

  /** Makes the FIFO. Blocking. */
  public static void create(Path fifo) {
    HostCommand.check("mkfifo", "-m", "600", fifo.toString());
  }

  /**
   * Reads {@code fifo} until its writer closes it, writing into {@code out}; completes (on {@code context})
   * with the byte count; does not end {@code out}.
   */
  public static Future<Long> pump(Vertx vertx, Context context, Path fifo, WriteStream<Buffer> out,
                                  java.util.function.BooleanSupplier cancelled) {
    return vertx.executeBlocking(() -> {
      long total = 0;
      try (InputStream in = Files.newInputStream(fifo)) {
        while (true) {
          byte[] chunk = new byte[CHUNK];
          int read = in.readNBytes(chunk, 0, CHUNK);
          if (read <= 0) {
            break;
          }
          if (cancelled.getAsBoolean()) {
            continue;  // keep draining, so that the writer finishes and its side can roll back
          }
          Buffer buffer = Buffer.buffer(read == CHUNK ? chunk : Arrays.copyOf(chunk, read));
          CompletableFuture<Void> writable = new CompletableFuture<>();
          context.runOnContext(ignored -> {
            out.write(buffer);
            if (out.writeQueueFull()) {
              out.drainHandler(drained -> writable.complete(null));
            } else {
              writable.complete(null);
            }
          });
          while (!writable.isDone() && !cancelled.getAsBoolean()) {
            try {
              writable.get(100, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException stillFull) {
              // look at the cancel flag again
            }
          }
          total += read;
        }
      }
      return total;
    }, false);
  }

  /**
   * Unblocks a reader still waiting in {@code open} because the writer failed before opening the FIFO:
   * opens it for writing once, briefly. Blocking; harmless when nobody reads.
   */
  public static void release(Path fifo) {
    if (Files.exists(fifo)) {
      HostCommand.run("timeout", "2", "sh", "-c", ": > \"$0\"", fifo.toString());
    }
  }
}
