package io.ums.agent.criu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ProcessTree#running} and {@link ProcessTree#resume} against the state CRIU's {@code --leave-stopped}
 * leaves a tree in when it exits: a SIGSTOP queued that the task has not acted on yet (compel queues it, then
 * detaches; the task reads "R" or "S" until it next gets a CPU, and stops only then). On a loaded machine
 * the agent's resume looked in that window, saw a running tree, sent no SIGCONT, and the tree stopped for
 * good right after: "resumed" reported, no answer. A real frozen cgroup (the kernel's freezer) holds the
 * task in that window for as long as the test needs; the workload is a real {@code python3} that appends a
 * tick to a file every 10 ms, so "it runs" is seen, not inferred from /proc.
 */
class ProcessTreeStopTest {
  @TempDir
  Path tmp;

  private Process ticker;
  private Freezer freezer;

  @AfterEach
  void cleanUp() throws Exception {
    if (freezer != null) {
      freezer.thaw();
    }
    if (ticker != null) {
      ticker.destroyForcibly().waitFor();
    }
    if (freezer != null) {
      freezer.remove();
    }
  }

  @Test
  void aQueuedStopIsNotRunningAndResumeDiscardsIt() throws Exception {
    freezer = Freezer.create();
    Path ticks = tmp.resolve("ticks");
    ticker = new ProcessBuilder("python3", "-c", "import sys, time\n"
        + "while True:\n  open(sys.argv[1], 'a').write('x')\n  time.sleep(0.01)\n", ticks.toString()).start();
    await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(ticks) && Files.size(ticks) > 0);
    freezer.freeze(ticker.pid());

    // what compel's unseize into TASK_STOPPED does before its PTRACE_DETACH
    ProcessTree.signalAll(ticker.pid(), "STOP");
    await().atMost(Duration.ofSeconds(10)).until(() -> stopQueued(ticker.pid()));
    assertThat(ProcessTree.state(ticker.pid())).as("a frozen task does not read as stopped")
        .isNotEqualTo(java.util.Optional.of('T'));

    assertThat(ProcessTree.running(ticker.pid())).as("a queued SIGSTOP is a stop").isFalse();
    assertThat(ProcessTree.resume(ticker.pid())).isTrue();
    assertThat(stopQueued(ticker.pid())).as("SIGCONT discards the queued SIGSTOP").isFalse();

    freezer.thaw();
    long atThaw = Files.size(ticks);
    await().atMost(Duration.ofSeconds(60))
        .until(() -> Files.size(ticks) >= atThaw + 5 || ProcessTree.state(ticker.pid()).orElse('X') == 'T');
    assertThat(ProcessTree.state(ticker.pid())).as("the resumed process did not stop once it ran")
        .isNotEqualTo(java.util.Optional.of('T'));
    assertThat(Files.size(ticks)).isGreaterThanOrEqualTo(atThaw + 5);
    assertThat(ProcessTree.running(ticker.pid())).isTrue();
  }

  private static boolean stopQueued(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith("ShdPnd:") && (Long.parseUnsignedLong(line.substring(7).trim(), 16) & (1L << 18)) != 0) {
        return true;
      }
    }
    return false;
  }

  /** A cgroup of the kernel's freezer of its own: cgroup v1's freezer controller, else a v2 cgroup.freeze. */
  private record Freezer(Path dir, boolean v1) {
    static Freezer create() throws IOException {
      String name = "ums-test-freeze-" + UUID.randomUUID().toString().substring(0, 8);
      Path v1 = Path.of("/sys/fs/cgroup/freezer");
      Path v2 = Files.exists(Path.of("/sys/fs/cgroup/unified/cgroup.controllers"))
          ? Path.of("/sys/fs/cgroup/unified") : Path.of("/sys/fs/cgroup");
      boolean useV1 = Files.exists(v1.resolve("freezer.state")) || Files.exists(v1.resolve("tasks"));
      Assumptions.assumeTrue(useV1 || Files.exists(v2.resolve("cgroup.controllers")), "no cgroup freezer here");
      Path dir = Files.createDirectory((useV1 ? v1 : v2).resolve(name));
      return new Freezer(dir, useV1);
    }

    void freeze(long pid) throws IOException {
      Files.writeString(dir.resolve("cgroup.procs"), Long.toString(pid));
      if (v1) {
        Files.writeString(dir.resolve("freezer.state"), "FROZEN");
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(dir.resolve("freezer.state")).trim()
            .equals("FROZEN"));
      } else {
        Files.writeString(dir.resolve("cgroup.freeze"), "1");
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(dir.resolve("cgroup.events"))
            .contains("frozen 1"));
      }
    }

    void thaw() throws IOException {
      if (Files.exists(dir)) {
        Files.writeString(dir.resolve(v1 ? "freezer.state" : "cgroup.freeze"), v1 ? "THAWED" : "0");
      }
    }

    void remove() {
      await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> {
        Files.deleteIfExists(dir);
        return true;
      });
    }
  }
}
