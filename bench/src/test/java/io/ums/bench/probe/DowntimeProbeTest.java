package io.ums.bench.probe;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.testkit.MemService;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The probe against two real memservice processes on loopback: the "source" answers, is killed, and a fresh
 * "destination" starts on another port after a pause. The probe must see the pause as downtime, and must see
 * that the destination's counter started from zero (a restart is not a migration).
 */
class DowntimeProbeTest {
  private Process source;
  private Process destination;

  @AfterEach
  void stop() {
    for (Process process : new Process[] {source, destination}) {
      if (process != null) {
        process.destroyForcibly();
      }
    }
  }

  @Test
  void measuresTheGapBetweenLastSourceAnswerAndFirstDestinationAnswer(@TempDir Path dir) throws Exception {
    Path memservice = MemService.build(dir);
    int sourcePort = freePort();
    int destinationPort = freePort();
    source = new ProcessBuilder(memservice.toString(), String.valueOf(sourcePort), "1").start();

    try (DowntimeProbe probe = DowntimeProbe.start(new InetSocketAddress("127.0.0.1", sourcePort),
        new InetSocketAddress("127.0.0.1", destinationPort))) {
      DowntimeProbe.Answer first = probe.awaitSource(Duration.ofSeconds(10));
      // let the source's counter run well past what a fresh process shows at its first answer
      long killedAt = waitUntilCounterAtLeast(probe, first.counter() + 300);
      source.destroyForcibly().waitFor();
      long pauseStart = System.nanoTime();
      // the destination comes up 200 ms later: no answer from anybody in between
      Thread.sleep(200); // the pause being measured, not a wait for a condition
      destination = new ProcessBuilder(memservice.toString(), String.valueOf(destinationPort), "1").start();

      DowntimeProbe.Outcome outcome = probe.awaitDestination(Duration.ofSeconds(10));

      assertThat(outcome.lastFromSource().atNanos()).isLessThanOrEqualTo(pauseStart);
      assertThat(outcome.lastFromSource().atNanos()).isGreaterThanOrEqualTo(killedAt);
      assertThat(outcome.downtimeMs()).isGreaterThanOrEqualTo(200.0).isLessThan(5_000.0);
      assertThat(outcome.firstFromDestination().checksum()).isEqualTo(first.checksum());
      assertThat(outcome.counterContinued()).as("a restarted service starts counting from zero").isFalse();
    }
  }

  /** Returns when the probe has seen the source's counter reach {@code counter} (the probe keeps asking). */
  private static long waitUntilCounterAtLeast(DowntimeProbe probe, long counter) throws Exception {
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5))
        .until(() -> probe.lastFromSource().counter() >= counter);
    return probe.lastFromSource().atNanos();
  }

  private static int freePort() throws Exception {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
