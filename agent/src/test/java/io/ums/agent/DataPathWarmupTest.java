package io.ums.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The warm-up an agent runs before it reports ready: its page path really carries every byte (real UMS
 * connection, dump and page-server sockets, reply channel, an image file), it leaves nothing behind, it never
 * stops an agent from starting, and {@code AgentMain} runs it before the control API answers. Not timed.
 */
class DataPathWarmupTest {
  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void closeVertx() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void carriesEveryPageByteAndLeavesNoScratchBehind(@TempDir Path workDir) throws Exception {
    // not a whole number of the stand-ins' 64 KiB writes: the page server must count exactly
    complete(DataPathWarmup.attempt(vertx, workDir, (8L << 20) + 12_345));
    try (Stream<Path> left = Files.list(workDir)) {
      assertThat(left).isEmpty();
    }
  }

  @Test
  void aFailedWarmUpDoesNotStopTheAgent(@TempDir Path dir) throws Exception {
    Path notADirectory = Files.writeString(dir.resolve("file"), "x");
    assertThat(DataPathWarmup.attempt(vertx, notADirectory, 1 << 20).toCompletionStage().toCompletableFuture()
        .handle((ok, failure) -> failure).get(30, TimeUnit.SECONDS)).isNotNull();
    complete(DataPathWarmup.run(vertx, notADirectory, 1));
    complete(DataPathWarmup.run(vertx, notADirectory, 0));
  }

  @Test
  void theAgentWarmsUpBeforeItsControlApiListens(@TempDir Path dir) throws Exception {
    try (AgentProcess agent = AgentProcess.start("warm", dir.resolve("work"), dir.resolve("agent.log"))) {
      await().atMost(Duration.ofSeconds(30)).until(() -> agent.output().contains("agent warm up"));
      String log = agent.output();
      assertThat(log).contains("data path warm-up done: " + DataPathWarmup.DEFAULT_MIB + " MiB");
      assertThat(log.indexOf("data path warm-up done")).isLessThan(log.indexOf("agent warm up"));
    }
  }

  private static void complete(Future<Void> future) throws Exception {
    future.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }
}
