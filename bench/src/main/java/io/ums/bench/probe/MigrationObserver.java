package io.ums.bench.probe;

import io.ums.testkit.MemServiceClient;
import io.ums.bench.local.Waits;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;

/**
 * Watches one migration of a memservice the way a client would, shared by the bench and the demo: verify the
 * memory on the source, probe both addresses every millisecond, run the migration, wait for the
 * destination's first answer, verify the memory there. Total time is migration start to that first answer;
 * downtime is the probe's gap; wire bytes are what the source node sent on its link meanwhile.
 */
public final class MigrationObserver {
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration DESTINATION_TIMEOUT = Duration.ofSeconds(30);
  private static final int VERIFY_TIMEOUT_MS = 30_000;
  /** Answers from the source before the migration starts: the "before" answer times. */
  private static final int BEFORE_SAMPLE = 500;

  /** The migration itself; returns its per-phase milliseconds. */
  public interface Migration {
    Map<String, Double> migrate() throws Exception;
  }

  /** What the client saw. {@code checksumOk} includes that the counter continued. */
  public record Observation(double downtimeMs, double totalMs, long wireBytes, boolean checksumOk,
      boolean counterContinued, String checksumBefore, String checksumAfter, Map<String, Double> overhead,
      Map<String, Double> probe) {}

  private final InetSocketAddress source;
  private final InetSocketAddress destination;
  private final Path sourceTxCounter;

  /**
   * @param sourceVethHost the root-namespace end of the source node's veth: its rx counter is what the node
   *     sent
   */
  public MigrationObserver(InetSocketAddress source, InetSocketAddress destination, String sourceVethHost) {
    this.source = source;
    this.destination = destination;
    this.sourceTxCounter = Path.of("/sys/class/net", sourceVethHost, "statistics", "rx_bytes");
  }

  /** Waits until the memservice answers on the source: it has filled its memory and listens. */
  public void awaitSourceReady() {
    Waits.until("memservice at " + source, READY_TIMEOUT, 20, () -> {
      try {
        MemServiceClient.query(source.getHostString(), source.getPort(), 500);
        return true;
      } catch (IOException | RuntimeException notYet) {
        return false;
      }
    });
  }

  public Observation observe(Migration migration, java.util.function.Consumer<String> phase) throws Exception {
    awaitSourceReady();
    phase.accept("verifying source memory");
    MemServiceClient.Answer before = MemServiceClient.verify(source.getHostString(), source.getPort(),
        VERIFY_TIMEOUT_MS);
    try (DowntimeProbe probe = DowntimeProbe.start(source, destination)) {
      probe.awaitSource(Duration.ofSeconds(5));
      probe.awaitSourceAnswers(BEFORE_SAMPLE, Duration.ofSeconds(3));
      long bytesBefore = sentBytes();
      long start = System.nanoTime();
      Map<String, Double> overhead = migration.migrate();
      long migrated = System.nanoTime();
      phase.accept("waiting for the destination to answer");
      DowntimeProbe.Outcome outcome = probe.awaitDestination(DESTINATION_TIMEOUT);
      long wireBytes = sentBytes() - bytesBefore;
      double totalMs = (outcome.firstFromDestination().atNanos() - start) / 1e6;
      phase.accept("verifying destination memory");
      MemServiceClient.Answer after = MemServiceClient.verify(destination.getHostString(), destination.getPort(),
          VERIFY_TIMEOUT_MS);
      boolean counterContinued = outcome.counterContinued() && after.counter() >= before.counter();
      boolean checksumOk = before.checksum().equals(after.checksum()) && counterContinued;
      return new Observation(outcome.downtimeMs(), totalMs, wireBytes, checksumOk, counterContinued,
          before.checksum(), after.checksum(), overhead,
          answerTimes(probe, start, outcome.firstFromDestination().atNanos(), migrated));
    }
  }

  /**
   * The probe's answer times (ms) before the migration (at the source) and while it was still running
   * after the destination's first answer (post-copy: pages arriving; the migration call returns with the
   * last page), with how many answers that was.
   */
  private static Map<String, Double> answerTimes(DowntimeProbe probe, long start, long firstAtDestination,
                                                 long migrated) {
    Map<String, Double> times = new java.util.LinkedHashMap<>();
    java.util.List<Long> before = probe.answerMicros(false, 0, start);
    java.util.List<Long> during = probe.answerMicros(true, firstAtDestination, migrated);
    put(times, "probeP50BeforeMs", DowntimeProbe.percentile(before, 50));
    put(times, "probeP99BeforeMs", DowntimeProbe.percentile(before, 99));
    put(times, "probeP50DuringMs", DowntimeProbe.percentile(during, 50));
    put(times, "probeP99DuringMs", DowntimeProbe.percentile(during, 99));
    times.put("probeAnswersDuring", (double) during.size());
    return times;
  }

  private static void put(Map<String, Double> times, String key, Long micros) {
    if (micros != null) {
      times.put(key, micros / 1000.0);
    }
  }

  private long sentBytes() throws IOException {
    return Long.parseLong(Files.readString(sourceTxCounter).trim());
  }
}
