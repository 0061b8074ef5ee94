package io.ums.agent.criu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Tether} with real processes ({@code sh}, {@code sleep}); the agent's death is played by closing its
 * end of the tether's pipe, which is what the kernel does when the agent dies. And {@link OrphanedCriu}
 * against a stand-in "criu" (a copy of {@code sh}) working in a session root.
 */
class TetherTest {
  private final List<ProcessHandle> started = new ArrayList<>();

  @AfterEach
  void killWhatIsLeft() {
    started.forEach(ProcessHandle::destroyForcibly);
  }

  @Test
  void theCommandsExitCodeIsTheTethersAndItsOutputGoesWhereTheBuilderSaid(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("out");
    Process process = Tether.start(new ProcessBuilder("sh", "-c", "echo hello; exit 7")
        .redirectOutput(out.toFile()), List.of());
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).isEqualTo(7);
    assertThat(Files.readString(out)).isEqualTo("hello\n");
  }

  @Test
  void theCommandDiesWhenTheAgentsEndOfThePipeCloses() throws Exception {
    Process process = Tether.start(new ProcessBuilder("sleep", "600"), List.of());
    ProcessHandle sleep = awaitSleep(process);
    process.getOutputStream().close();
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !ProcessTree.alive(sleep.pid()));
    assertThat(process.waitFor(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void destroyForciblyEndsTheCommandToo() throws Exception {
    Process process = Tether.start(new ProcessBuilder("sleep", "600"), List.of());
    ProcessHandle sleep = awaitSleep(process);
    process.destroyForcibly();
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !ProcessTree.alive(sleep.pid()));
  }

  @Test
  void aCommandThatMustOutliveAnotherProcessDiesOnlyAfterIt() throws Exception {
    Process first = new ProcessBuilder("sh", "-c", "read -r line").start();
    started.add(first.toHandle());
    Process process = Tether.start(new ProcessBuilder("sleep", "600"), List.of(first.pid()));
    ProcessHandle sleep = awaitSleep(process);
    process.getOutputStream().close();
    // the tether waits for "first" (it polls every 0.1 s): give it several rounds, then end "first"
    assertThat(process.waitFor(1, TimeUnit.SECONDS)).as("still waiting for the process to outlive").isFalse();
    assertThat(ProcessTree.alive(sleep.pid())).isTrue();
    first.getOutputStream().close();
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !ProcessTree.alive(sleep.pid()));
  }

  @Test
  void aRestartingAgentKillsTheCriuProcessesWorkingInItsSessionRootOnly(@TempDir Path dir) throws Exception {
    Path criu = Files.copy(Path.of("/bin/sh"), dir.resolve("criu"));
    Path root = Files.createDirectories(dir.resolve("sessions"));
    Path elsewhere = Files.createDirectories(dir.resolve("sessions-of-another-agent"));
    // "; :" keeps sh from exec'ing sleep in its place
    Process ours = new ProcessBuilder(criu.toString(), "-c", "sleep 600; :", root.resolve("recv-1/images").toString())
        .start();
    Process theirs = new ProcessBuilder(criu.toString(), "-c", "sleep 600; :", elsewhere.resolve("x").toString())
        .start();
    started.addAll(List.of(ours.toHandle(), theirs.toHandle()));
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> ours.children().findAny().isPresent()
        && theirs.children().findAny().isPresent());
    ours.children().forEach(started::add);
    theirs.children().forEach(started::add);

    assertThat(OrphanedCriu.reap(root, List.of(root.resolve("send-held")))).containsExactly(ours.pid());
    assertThat(ours.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(theirs.isAlive()).isTrue();
  }

  private ProcessHandle awaitSleep(Process tether) {
    started.add(tether.toHandle());
    ProcessHandle sleep = Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> tether.descendants()
        .filter(child -> child.info().command().map(command -> command.endsWith("/sleep")).orElse(false))
        .findFirst().orElse(null), found -> found != null);
    started.add(sleep);
    return sleep;
  }
}
