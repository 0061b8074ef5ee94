package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.WriteStream;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file sent while another writer still appends to it (the kubelet's runtime writing a checkpoint archive): the
 * reader reaches the file's current end several times before the writer is done, and must wait there rather than
 * end; it ends exactly at the length the writer reports, and fails when the file is shorter than that or when it
 * is stopped. The writer waits for the reader to catch up (a condition, not a sleep) before each append.
 */
class GrowingFileTest {
  private final Vertx vertx = Vertx.vertx();

  @TempDir
  Path dir;

  @AfterEach
  void close() throws Exception {
    vertx.close().await(30, TimeUnit.SECONDS);
  }

  @Test
  void bytesAppendedAfterTheReaderReachedTheEndAreSentTooUpToTheReportedLength() throws Exception {
    Path file = Files.createFile(dir.resolve("checkpoint.tar"));
    GrowingFile growing = new GrowingFile(vertx, file);
    Collected collected = new Collected();
    AtomicReference<Future<Long>> sent = new AtomicReference<>();
    vertx.runOnContext(ignored -> sent.set(growing.sendTo(collected)));
    ByteArrayOutputStream written = new ByteArrayOutputStream();
    Random random = new Random(3);
    try (OutputStream out = Files.newOutputStream(file, StandardOpenOption.APPEND)) {
      for (int piece = 0; piece < 6; piece++) {
        byte[] bytes = new byte[100_000 + piece * 70_000];
        random.nextBytes(bytes);
        out.write(bytes);
        out.flush();
        written.write(bytes);
        long length = written.size();
        // the reader is at the file's end now: it waits there, it does not end
        await().atMost(Duration.ofSeconds(30)).until(() -> collected.size() == length);
        assertThat(sent.get().isComplete()).as("sent while the writer still writes").isFalse();
      }
    }
    vertx.runOnContext(ignored -> growing.complete(written.size()));
    await().atMost(Duration.ofSeconds(30)).until(() -> sent.get().isComplete());
    assertThat(sent.get().result()).isEqualTo(written.size());
    assertThat(collected.bytes()).isEqualTo(written.toByteArray());
  }

  @Test
  void aFileShorterThanItsReportedLengthFailsAndAStoppedOneFailsWithTheReason() throws Exception {
    Path file = Files.write(dir.resolve("short.tar"), new byte[5000]);
    GrowingFile shorter = new GrowingFile(vertx, file);
    AtomicReference<Future<Long>> sent = new AtomicReference<>();
    vertx.runOnContext(ignored -> {
      shorter.complete(6000);
      sent.set(shorter.sendTo(new Collected()));
    });
    await().atMost(Duration.ofSeconds(30)).until(() -> sent.get() != null && sent.get().failed());
    assertThat(sent.get().cause()).hasMessageContaining("ends at 5000 bytes, its writer reported 6000");

    GrowingFile stopped = new GrowingFile(vertx, file);
    AtomicReference<Future<Long>> waiting = new AtomicReference<>();
    Collected collected = new Collected();
    vertx.runOnContext(ignored -> waiting.set(stopped.sendTo(collected)));
    await().atMost(Duration.ofSeconds(30)).until(() -> collected.size() == 5000);
    vertx.runOnContext(ignored -> stopped.stop(new IllegalStateException("the migration ended")));
    await().atMost(Duration.ofSeconds(30)).until(() -> waiting.get().failed());
    assertThat(waiting.get().cause()).hasMessage("the migration ended");
  }

  /** A write stream that keeps what it gets (and is never full). */
  private static final class Collected implements WriteStream<Buffer> {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

    synchronized int size() {
      return bytes.size();
    }

    synchronized byte[] bytes() {
      return bytes.toByteArray();
    }

    @Override
    public synchronized Future<Void> write(Buffer data) {
      bytes.write(data.getBytes(), 0, data.length());
      return Future.succeededFuture();
    }

    @Override
    public Future<Void> end() {
      return Future.succeededFuture();
    }

    @Override
    public WriteStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
      return this;
    }

    @Override
    public WriteStream<Buffer> setWriteQueueMaxSize(int maxSize) {
      return this;
    }

    @Override
    public boolean writeQueueFull() {
      return false;
    }

    @Override
    public WriteStream<Buffer> drainHandler(Handler<Void> handler) {
      return this;
    }
  }
}
