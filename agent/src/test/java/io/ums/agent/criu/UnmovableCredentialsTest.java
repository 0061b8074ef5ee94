package io.ums.agent.criu;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** Real processes (sleep, started as root or through setpriv as nobody), read from /proc. */
class UnmovableCredentialsTest {
  @Test
  void aFirstProcessThatDroppedRootIsNamedWithItsIds() throws Exception {
    Process sleeper = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
        "sleep", "60").start();
    try {
      long pid = sleeper.pid();
      // setpriv execs sleep in place: wait until the process runs as nobody
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> UnmovableCredentials.find(pid, List.of(pid))
          .isPresent());
      assertThat(UnmovableCredentials.find(pid, List.of(pid))).get().asString()
          .contains("its first process (pid " + pid + ", uid 65534/65534/65534 gid 65534/65534/65534)")
          .contains("without CAP_SYS_ADMIN").contains("runuser -u USER -- COMMAND");
    } finally {
      sleeper.destroyForcibly().waitFor();
    }
  }

  @Test
  void aTreeRunningAsTheAgentIsMovable() throws Exception {
    Process sleeper = new ProcessBuilder("sleep", "60").start();
    try {
      assertThat(UnmovableCredentials.find(sleeper.pid(), List.of(sleeper.pid()))).isEmpty();
    } finally {
      sleeper.destroyForcibly().waitFor();
    }
  }
}
