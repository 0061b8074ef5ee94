package io.ums.agent.migration;

import io.netty.buffer.Unpooled;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.streams.WriteStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A file another process is still writing (appending), sent as it grows: its bytes go into a write stream as they
 * appear, with the stream's backpressure, until the writer is done ({@link #complete}, with the file's final
 * length) and every byte up to that length went out. Why: the kubelet's runtime writes the checkpoint archive as
 * the last step of its checkpoint, seconds for a large container on a busy node, and answers only once the file
 * is complete; reading it meanwhile overlaps that writing with the transfer. A read that finds no new bytes waits
 * {@link #POLL_MILLIS} and tries again. Reads run on worker threads, one at a time; the stream is written on the
 * caller's context. Not an end of the stream: the caller ends it.
 */
final class GrowingFile {
  static final long POLL_MILLIS = 10;
  private static final int READ_BYTES = 256 * 1024;

  private final Vertx vertx;
  private final Path path;
  private final Promise<Long> finalLength = Promise.promise();
  private final Promise<Long> sent = Promise.promise();
  private FileChannel file;
  private long position;
  private WriteStream<Buffer> out;

  GrowingFile(Vertx vertx, Path path) {
    this.vertx = vertx;
    this.path = path;
  }

  /** The writer is done: the file is complete at {@code length} bytes. */
  void complete(long length) {
    finalLength.tryComplete(length);
  }

  /** Stops sending (the writer failed, or the migration ended): {@link #sendTo}'s future fails with {@code why}. */
  void stop(Throwable why) {
    finalLength.tryFail(why);
    sent.tryFail(why);
  }

  /** Bytes sent so far. */
  long position() {
    return position;
  }

  /**
   * Sends the file into {@code stream} from its first byte, as it grows; completes with the file's length once
   * all of it went out (not a byte past it). Fails if the file is shorter than the final length, or on
   * {@link #stop}.
   */
  Future<Long> sendTo(WriteStream<Buffer> stream) {
    out = stream;
    vertx.executeBlocking(() -> FileChannel.open(path, StandardOpenOption.READ), false)
        .onSuccess(opened -> {
          file = opened;
          next();
        })
        .onFailure(sent::tryFail);
    return sent.future().eventually(this::close);
  }

  private void next() {
    if (sent.future().isComplete()) {
      return;
    }
    Future<Long> known = finalLength.future();
    if (known.failed()) {
      sent.tryFail(known.cause());
      return;
    }
    Long length = known.succeeded() ? known.result() : null;
    if (length != null && position >= length) {
      sent.tryComplete(position);
      return;
    }
    int most = (int) (length == null ? READ_BYTES : Math.min(READ_BYTES, length - position));
    long at = position;
    vertx.executeBlocking(() -> read(at, most), false).onComplete(read -> {
      if (read.failed()) {
        sent.tryFail(read.cause());
      } else if (read.result().length() > 0) {
        position += read.result().length();
        out.write(read.result()).onFailure(sent::tryFail);
        if (out.writeQueueFull()) {
          out.drainHandler(drained -> next());
        } else {
          next();
        }
      } else if (length != null) {
        sent.tryFail(new IOException(path + " ends at " + position + " bytes, its writer reported " + length));
      } else {
        vertx.setTimer(POLL_MILLIS, fired -> next());
      }
    });
  }

  /** Up to {@code most} bytes at {@code at}, as many as the file has there now (none at its current end). */
  private Buffer read(long at, int most) throws IOException {
    ByteBuffer bytes = ByteBuffer.allocate(most);
    while (bytes.hasRemaining()) {
      if (file.read(bytes, at + bytes.position()) <= 0) {
        break;
      }
    }
    return BufferInternal.buffer(Unpooled.wrappedBuffer(bytes.array(), 0, bytes.position()));
  }

  private Future<Void> close() {
    FileChannel opened = file;
    return opened == null ? Future.succeededFuture() : vertx.executeBlocking(() -> {
      opened.close();
      return null;
    }, false);
  }
}
