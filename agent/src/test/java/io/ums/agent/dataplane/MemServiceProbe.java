package io.ums.agent.dataplane;

import io.ums.testkit.MemServiceClient;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A client of the memory service asking for its counter every ~2 ms, from the host, on one thread: every
 * answer (or failure) is recorded with when it was asked, how long it took and which address it asked.
 * The test points it at the destination once the images are there ({@link #target}), so the first answer
 * from the destination comes as soon as the restored service can give it.
 */
final class MemServiceProbe implements AutoCloseable {
  record Sample(long startNanos, long endNanos, String address, boolean ok, long counter) {
    long micros() {
      return TimeUnit.NANOSECONDS.toMicros(endNanos - startNanos);
    }
  }

  private final int port;
  private final int timeoutMillis;
  private final List<Sample> samples = new ArrayList<>();
  private final Thread thread;
  private volatile String target;
  private volatile boolean running = true;

  MemServiceProbe(String address, int port, int timeoutMillis) {
    this.target = address;
    this.port = port;
    this.timeoutMillis = timeoutMillis;
    this.thread = new Thread(this::loop, "memservice-probe");
    thread.setDaemon(true);
    thread.start();
  }

  void target(String address) {
    this.target = address;
  }

  private void loop() {
    while (running) {
      String address = target;
      long start = System.nanoTime();
      boolean ok = false;
      long counter = -1;
      try {
        counter = MemServiceClient.query(address, port, timeoutMillis).counter();
        ok = true;
      } catch (Exception e) {
        // a failed answer is a sample too: downtime is made of them
      }
      synchronized (samples) {
        samples.add(new Sample(start, System.nanoTime(), address, ok, counter));
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
    }
  }

  List<Sample> samples() {
    synchronized (samples) {
      return List.copyOf(samples);
    }
  }

  long okAnswers(String address) {
    return samples().stream().filter(sample -> sample.ok() && sample.address().equals(address)).count();
  }

  /** The last answer from {@code address} that began before {@code nanos}. */
  Sample lastOkBefore(String address, long nanos) {
    Sample last = null;
    for (Sample sample : samples()) {
      if (sample.ok() && sample.address().equals(address) && sample.startNanos() < nanos) {
        last = sample;
      }
    }
    return last;
  }

  Sample firstOk(String address) {
    return samples().stream().filter(sample -> sample.ok() && sample.address().equals(address)).findFirst()
        .orElse(null);
  }

  /** Answer times (µs) of the answers from {@code address} that began within [from, to). */
  List<Long> answerMicros(String address, long from, long to) {
    return samples().stream()
        .filter(sample -> sample.ok() && sample.address().equals(address))
        .filter(sample -> sample.startNanos() >= from && sample.startNanos() < to)
        .map(Sample::micros).sorted().toList();
  }

  long failures(String address, long from, long to) {
    return samples().stream()
        .filter(sample -> !sample.ok() && sample.address().equals(address))
        .filter(sample -> sample.startNanos() >= from && sample.startNanos() < to).count();
  }

  static long percentile(List<Long> sorted, double p) {
    if (sorted.isEmpty()) {
      return -1;
    }
    int index = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    thread.join(5000);
  }
}
