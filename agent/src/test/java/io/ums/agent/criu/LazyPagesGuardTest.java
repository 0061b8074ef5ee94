package io.ums.agent.criu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lazy-pages guard's control pipe, with the real perl guard and a real process standing for the restored
 * tree (a {@code sleep}); the test plays the agent (the pipe, and the relay the guard connects to) and the
 * daemon (a client of the guard's port). The guard starts with the session and learns the pid file later.
 */
class LazyPagesGuardTest {
  private static final String HOST = "127.0.0.1";

  @TempDir
  Path dir;

  private Process tree;

  @AfterEach
  void killTree() {
    if (tree != null) {
      tree.destroyForcibly();
    }
  }

  private Path startTree() throws Exception {
    tree = new ProcessBuilder("sleep", "600").start();
    Path pidFile = dir.resolve("restored.pid");
    Files.writeString(pidFile, tree.pid() + "\n");
    return pidFile;
  }

  @Test
  void theAgentGoingBeforeThePidFileIsNamedKillsNothing() throws Exception {
    startTree();
    try (ServerSocket relay = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
      LazyPagesGuard guard = LazyPagesGuard.start(dir, HOST, relay.getLocalPort());
      guard.close();

      assertThat(guard.process().exitValue()).isEqualTo(3);
      assertThat(tree.isAlive()).as("no restore had started under this guard").isTrue();
      assertThat(Files.readString(dir.resolve(LazyPagesGuard.LOG))).contains("the agent went away: no restore started");
    }
  }

  @Test
  void theAgentGoingAfterThePidFileIsNamedKillsTheTreeBeforeTheGuardEnds() throws Exception {
    Path pidFile = startTree();
    try (ServerSocket relay = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
      LazyPagesGuard guard = LazyPagesGuard.start(dir, HOST, relay.getLocalPort());
      guard.restoredPidFile(pidFile);
      guard.close();

      assertThat(guard.process().exitValue()).isEqualTo(3);
      assertThat(tree.waitFor(10, TimeUnit.SECONDS)).as("killed by the guard").isTrue();
      assertThat(Files.readString(dir.resolve(LazyPagesGuard.LOG)))
          .contains("the agent went away: killed restored tree " + tree.pid() + " (gone)");
    }
  }

  /** "pidfile" and "done" in one write: the guard reads both, so the agent's going afterwards kills nothing. */
  @Test
  void afterDoneTheAgentMayGoAndTheDaemonEndsTheGuard() throws Exception {
    Path pidFile = startTree();
    try (ServerSocket relay = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
      LazyPagesGuard guard = LazyPagesGuard.start(dir, HOST, relay.getLocalPort());
      try (Socket daemon = new Socket(HOST, guard.port()); Socket agentSide = relay.accept()) {
        OutputStream control = guard.process().getOutputStream();
        control.write(("pidfile " + pidFile + "\ndone\n").getBytes(StandardCharsets.UTF_8));
        control.flush();
        // bytes both ways prove the relay runs, and that the guard has read its control lines meanwhile
        daemon.getOutputStream().write('q');
        InputStream fromDaemon = agentSide.getInputStream();
        assertThat(fromDaemon.read()).isEqualTo('q');
        control.close(); // the agent goes: after "done" that is no reason to fence
        agentSide.getOutputStream().write('a');
        assertThat(daemon.getInputStream().read()).as("the guard still relays").isEqualTo('a');
      }
      // the daemon closed its connection: the guard ends by itself
      assertThat(guard.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
      assertThat(guard.process().exitValue()).isZero();
      assertThat(tree.isAlive()).isTrue();
    }
  }
}
