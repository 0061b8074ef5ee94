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
 * {@link RestoreGuard} with real processes ({@code sh}, {@code sleep}, {@code flock}) standing in for CRIU and
 * the tree it restores; the agent's death is played by closing the agent's ends of the pipes, which is what the
 * kernel does when the agent dies.
 */
class RestoreGuardTest {
  private final List<ProcessHandle> started = new ArrayList<>();

  @AfterEach
  void killWhatIsLeft() {
    started.forEach(ProcessHandle::destroyForcibly);
  }

  /**
   * A restorer the guard cannot find by its command line (it reads empty while the restorer execs, and a
   * restorer the agent had just spawned may appear only after the guard looked; seen: a criu restore
   * --lazy-pages outlived its agent) still dies with the agent, with the task it forked into a session of its
   * own and the root its pid file names.
   */
  @Test
  void aRestorerDiesWithTheAgentWithWhatItRestoredHoweverItLooks(@TempDir Path dir) throws Exception {
    Path pidFile = dir.resolve("restored.pid");
    Process root = new ProcessBuilder("sleep", "600").start();
    started.add(root.toHandle());
    // a "restored task" in a session of its own, then the pid file, then CRIU at work
    Process restorer = RestoreGuard.startRestorer(new ProcessBuilder("sh", "-c",
        "setsid sleep 600 & echo \"$0\" >\"$1\"; sleep 600; :", Long.toString(root.pid()), pidFile.toString()),
        pidFile);
    started.add(restorer.toHandle());
    Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
        .until(() -> Files.readString(pidFile).trim().equals(Long.toString(root.pid())));
    List<ProcessHandle> sleeps = Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> sleeps(restorer),
        found -> found.size() == 2);
    started.addAll(sleeps);

    restorer.getOutputStream().close();

    Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
      assertThat(sleeps).noneMatch(sleep -> ProcessTree.alive(sleep.pid()));
      assertThat(ProcessTree.alive(root.pid())).as("the root in the pid file").isFalse();
    });
    assertThat(restorer.waitFor(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void aRestorersExitCodeIsTheProcesssAndItsOutputGoesWhereTheBuilderSaid(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("out");
    Process restorer = RestoreGuard.startRestorer(new ProcessBuilder("sh", "-c", "echo restored; exit 3")
        .redirectOutput(out.toFile()), dir.resolve("restored.pid"));
    started.add(restorer.toHandle());
    assertThat(restorer.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(restorer.exitValue()).isEqualTo(3);
    assertThat(Files.readString(out)).isEqualTo("restored\n");
  }

  /**
   * The guard reads the pid file only once the restorer let go of its lock (ended, or killed by its own
   * tether): CRIU writes the file just before it resumes the tasks, so an earlier look could miss the root.
   */
  @Test
  void theGuardKillsTheRootOnlyOnceTheRestorerLetGoOfItsLock(@TempDir Path dir) throws Exception {
    Path pidFile = dir.resolve("restored.pid");
    RestoreGuard guard = RestoreGuard.arm(pidFile);
    started.add(guard.process().toHandle());
    Process lockHolder = new ProcessBuilder("flock", pidFile + ".lock", "sh", "-c", "echo locked; read -r line")
        .start();
    started.add(lockHolder.toHandle());
    assertThat(new String(lockHolder.getInputStream().readNBytes(7))).isEqualTo("locked\n");

    guard.process().getOutputStream().close();
    // several rounds: the guard waits for the lock
    assertThat(guard.process().waitFor(1, TimeUnit.SECONDS)).as("the guard waits for the restorer's lock").isFalse();
    Process root = new ProcessBuilder("sleep", "600").start();
    started.add(root.toHandle());
    Files.writeString(pidFile, root.pid() + "\n");
    lockHolder.getOutputStream().close();

    Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> !ProcessTree.alive(root.pid()));
    assertThat(guard.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void aDisarmedGuardLeavesTheRootAlone(@TempDir Path dir) throws Exception {
    Path pidFile = dir.resolve("restored.pid");
    Process root = new ProcessBuilder("sleep", "600").start();
    started.add(root.toHandle());
    Files.writeString(pidFile, root.pid() + "\n");
    RestoreGuard guard = RestoreGuard.arm(pidFile);
    started.add(guard.process().toHandle());
    guard.disarm();
    assertThat(guard.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(ProcessTree.alive(root.pid())).isTrue();
  }

  private static List<ProcessHandle> sleeps(Process restorer) {
    return restorer.descendants().filter(process -> process.info().command()
        .map(command -> command.endsWith("/sleep")).orElse(false)).toList();
  }
}
