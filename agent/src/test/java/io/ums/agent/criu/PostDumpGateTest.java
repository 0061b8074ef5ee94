package io.ums.agent.criu;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The post-dump gate's script run by real bash, as CRIU runs it (CRTOOLS_SCRIPT_ACTION=post-dump), against a
 * real gate: its exit code is CRIU's verdict (0 commit, anything else roll back). Losing the agent rolls back
 * only until the gate was told to hold; after that only the verdict file decides.
 */
class PostDumpGateTest {
  @TempDir
  Path dir;

  private Vertx vertx;
  private PostDumpGate gate;

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    gate = PostDumpGate.listen(vertx, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void losingTheAgentBeforeTheHoldRollsBack() throws Exception {
    Process script = run(gate.writeScript(dir, Duration.ofMinutes(1), dir.resolve("verdict")));
    awaitDumped();
    gate.close();
    assertThat(script.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(script.exitValue()).as("rollback").isNotZero();
  }

  @Test
  void losingTheAgentAfterTheHoldWaitsForTheVerdictFile() throws Exception {
    Path verdict = dir.resolve("verdict");
    Process script = run(gate.writeScript(dir, Duration.ofMinutes(1), verdict));
    awaitDumped();
    // the agent dies right after telling it to hold: "hold" goes out before the connection's end
    vertx.runOnContext(ignored -> {
      gate.hold();
      gate.close();
    });
    assertThat(script.waitFor(2, TimeUnit.SECONDS)).as("still waiting: no verdict yet").isFalse();
    Files.writeString(verdict, "commit\n");
    assertThat(script.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(script.exitValue()).as("commit").isZero();
  }

  @Test
  void aRollbackVerdictFileRollsBack() throws Exception {
    Path verdict = dir.resolve("verdict");
    Process script = run(gate.writeScript(dir, Duration.ofMinutes(1), verdict));
    awaitDumped();
    vertx.runOnContext(ignored -> {
      gate.hold();
      gate.close();
    });
    Files.writeString(verdict, "rollback\n");
    assertThat(script.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(script.exitValue()).isNotZero();
  }

  @Test
  void aLiveAgentsCommitAfterTheHoldCommits() throws Exception {
    Process script = run(gate.writeScript(dir, Duration.ofMinutes(1), dir.resolve("verdict")));
    awaitDumped();
    vertx.runOnContext(ignored -> {
      gate.hold();
      gate.commit();
    });
    assertThat(script.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(script.exitValue()).isZero();
  }

  private void awaitDumped() throws Exception {
    gate.dumped().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static Process run(Path script) throws Exception {
    ProcessBuilder builder = new ProcessBuilder("bash", script.toString()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD);
    builder.environment().put("CRTOOLS_SCRIPT_ACTION", "post-dump");
    return builder.start();
  }
}
