package io.ums.bench.probe;

import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A {@link ServiceProbe} started in a network namespace ({@code ip netns exec}, a JVM of its own on this
 * process's class path), followed through its output: when it last answered, and at the end the pauses it saw.
 * Blocking; one reader thread.
 */
public final class ServiceProbeProcess implements AutoCloseable {
  /** A pause between two answers, on the wall clock, with the service's counter on either side. */
  public record Gap(double ms, long fromEpochMs, long toEpochMs, long counterBefore, long counterAfter) {}

  /** What the probe saw: how many answers, and every pause longer than 50 ms. */
  public record Seen(long answers, List<Gap> gaps) {
    /** The longest pause that overlaps [fromEpochMs, toEpochMs]. */
    public Optional<Gap> longestWithin(long fromEpochMs, long toEpochMs) {
      return gaps.stream().filter(g -> g.toEpochMs() >= fromEpochMs && g.fromEpochMs() <= toEpochMs)
          .max(java.util.Comparator.comparingDouble(Gap::ms));
    }
  }

  private final Process process;
  private final CompletableFuture<Seen> result = new CompletableFuture<>();
  private volatile long lastAnswerEpochMs = -1;
  private volatile long answers;

  private ServiceProbeProcess(Process process) {
    this.process = process;
    Thread reader = new Thread(this::read, "ums-service-probe-output");
    reader.setDaemon(true);
    reader.start();
  }

  /** Starts a probe of host:port inside {@code netns}; its standard error goes to {@code errorLog}. */
  public static ServiceProbeProcess start(String netns, String host, int port, Path errorLog) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    try {
      Process process = new ProcessBuilder("ip", "netns", "exec", netns, java, "-Xmx48m", "-XX:+UseSerialGC",
          "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), ServiceProbe.class.getName(),
          host, String.valueOf(port)).redirectError(errorLog.toFile()).start();
      return new ServiceProbeProcess(process);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the Service probe in " + netns, e);
    }
  }

  /** Waits until the probe has an answer at or after {@code epochMs}; false when none came within the timeout. */
  public boolean awaitAnswerAfter(long epochMs, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (lastAnswerEpochMs < epochMs) {
      if (System.nanoTime() > deadline || !process.isAlive()) {
        return false;
      }
      Thread.sleep(20);
    }
    return true;
  }

  /** Waits until the probe has answered at least {@code count} times in all; false on timeout. */
  public boolean awaitAnswers(long count, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (answers < count) {
      if (System.nanoTime() > deadline || !process.isAlive()) {
        return false;
      }
      Thread.sleep(20);
    }
    return true;
  }

  /** Stops the probe (closes its input) and returns what it saw. */
  public Seen stop() throws Exception {
    process.getOutputStream().close();
    return result.get(30, TimeUnit.SECONDS);
  }

  private void read() {
    try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
        StandardCharsets.US_ASCII))) {
      String line;
      while ((line = out.readLine()) != null) {
        if (line.startsWith("tick ")) {
          String[] parts = line.split(" ");
          lastAnswerEpochMs = Long.parseLong(parts[1]);
          answers = Long.parseLong(parts[2]);
        } else if (line.startsWith("result ")) {
          JsonObject json = new JsonObject(line.substring("result ".length()));
          result.complete(new Seen(json.getLong("answers"), json.getJsonArray("gaps").stream()
              .map(JsonObject.class::cast).map(g -> new Gap(g.getDouble("ms"), g.getLong("fromEpochMs"),
                  g.getLong("toEpochMs"), g.getLong("counterBefore"), g.getLong("counterAfter"))).toList()));
        }
      }
      result.completeExceptionally(new IllegalStateException("the Service probe ended without a result (exit "
          + process.waitFor() + ")"));
    } catch (IOException | RuntimeException | InterruptedException e) {
      result.completeExceptionally(e);
    }
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}
