package io.ums.protocol;

import io.vertx.core.buffer.Buffer;
import java.util.Random;
import java.util.zip.CRC32C;

/**
 * Incompressible test bytes made on the fly: chunk i is a window of one random 1 MiB block at an
 * offset that depends on i, so a long stream needs no memory and reordered chunks change its CRC.
 */
public final class TestData {
  public static final int CHUNK = 64 * 1024;
  private static final int BLOCK = 1024 * 1024;
  private static final Buffer RANDOM_BLOCK = randomBlock();

  private TestData() {}

  private static Buffer randomBlock() {
    byte[] bytes = new byte[BLOCK + CHUNK];
    new Random(42).nextBytes(bytes);
    return Buffer.buffer(bytes);
  }

  public static Buffer chunk(long index, int size) {
    int offset = (int) ((index * 7919L * 61) % BLOCK);
    return RANDOM_BLOCK.slice(offset, offset + size);
  }

  /** Text-like bytes LZ4 shrinks well. */
  public static Buffer compressibleChunk(long index, int size) {
    Buffer buffer = Buffer.buffer(size);
    String line = "checkpoint page " + index + " of a very regular workload, all zeros after this\n";
    while (buffer.length() < size) {
      buffer.appendString(line);
    }
    return buffer.slice(0, size);
  }

  /** Writes {@code total} bytes honouring the write queue, then ends; returns the CRC-32C it sent. */
  public static io.vertx.core.Future<Long> send(OutgoingChannel channel, long total, boolean compressible) {
    io.vertx.core.Promise<Long> done = io.vertx.core.Promise.promise();
    CRC32C crc = new CRC32C();
    new Object() {
      long index;
      long sent;

      void pump() {
        while (sent < total && !channel.writeQueueFull()) {
          int size = (int) Math.min(CHUNK, total - sent);
          Buffer chunk = compressible ? compressibleChunk(index, size) : chunk(index, size);
          io.ums.protocol.impl.Crc32c.update(crc, chunk);
          index++;
          sent += size;
          channel.write(chunk);
        }
        if (sent < total) {
          channel.drainHandler(v -> pump());
        } else {
          channel.end().onComplete(ar -> {
            if (ar.succeeded()) {
              done.complete(crc.getValue());
            } else {
              done.fail(ar.cause());
            }
          });
        }
      }
    }.pump();
    return done.future();
  }
}
