package io.ums.bench.probe;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Client-seen downtime: one thread asks the memservice "c" every millisecond on a persistent connection to
 * the source address and one to the destination address (reconnecting on any failure), and records the
 * last good answer from the source and the first good answer from the destination. Downtime is the gap.
 * Java NIO on its own thread: a millisecond cadence must not depend on anybody else's event loop.
 */
public final class DowntimeProbe implements AutoCloseable {
  static final long REQUEST_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

  /** A well-formed answer: when it arrived (System.nanoTime), what the service said, when it was asked. */
  public record Answer(long atNanos, long counter, String checksum, long askedNanos) {
    public long answerNanos() {
      return atNanos - askedNanos;
    }
  }

  /** What the probe saw across a migration. */
  public record Outcome(Answer lastFromSource, Answer firstFromDestination) {
    public double downtimeMs() {
      return (firstFromDestination.atNanos() - lastFromSource.atNanos()) / 1e6;
    }

    /** The restored service went on counting from where the source stopped (it was not restarted). */
    public boolean counterContinued() {
      return firstFromDestination.counter() >= lastFromSource.counter();
    }
  }

  private final Selector selector;
  private final ProbeEndpoint source;
  private final ProbeEndpoint destination;
  private final Thread thread;
  private final CompletableFuture<Answer> firstSource = new CompletableFuture<>();
  private final CompletableFuture<Answer> firstDestination = new CompletableFuture<>();
  private volatile Answer lastSource;
  private final List<Answer> sourceAnswers = Collections.synchronizedList(new ArrayList<>());
  private final List<Answer> destinationAnswers = Collections.synchronizedList(new ArrayList<>());
  private volatile boolean running = true;

  private DowntimeProbe(InetSocketAddress sourceAddress, InetSocketAddress destinationAddress) throws IOException {
    this.selector = Selector.open();
    this.source = new ProbeEndpoint(sourceAddress, this::onSourceAnswer);
    this.destination = new ProbeEndpoint(destinationAddress, this::onDestinationAnswer);
    this.thread = new Thread(this::loop, "ums-downtime-probe");
    this.thread.setDaemon(true);
  }

  /** Starts probing both addresses now. */
  public static DowntimeProbe start(InetSocketAddress source, InetSocketAddress destination) {
    try {
      DowntimeProbe probe = new DowntimeProbe(source, destination);
      probe.thread.start();
      return probe;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Waits until the source has answered once: the probe works before the migration starts. */
  public Answer awaitSource(Duration timeout) throws TimeoutException {
    return await(firstSource, timeout, "no answer from the source " + source.address());
  }

  /**
   * Waits (at most {@code timeout}) until the source has answered {@code count} times: a sample of its
   * answer times before the migration. Returns how many it answered.
   */
  public int awaitSourceAnswers(int count, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (sourceAnswers.size() < count && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    return sourceAnswers.size();
  }

  /** The latest answer from the source before the destination answered, or null when none yet. */
  public Answer lastFromSource() {
    return lastSource;
  }

  /** Waits for the first answer from the destination and returns the gap the client saw. */
  public Outcome awaitDestination(Duration timeout) throws TimeoutException {
    Answer first = await(firstDestination, timeout, "no answer from the destination " + destination.address());
    Answer last = lastSource;
    if (last == null) {
      throw new IllegalStateException("the source never answered the probe");
    }
    return new Outcome(last, first);
  }

  /** How long the answers that arrived in [fromNanos, toNanos) took, in microseconds, sorted. */
  public List<Long> answerMicros(boolean fromDestination, long fromNanos, long toNanos) {
    List<Answer> answers = fromDestination ? destinationAnswers : sourceAnswers;
    synchronized (answers) {
      return answers.stream().filter(a -> a.atNanos() >= fromNanos && a.atNanos() < toNanos)
          .map(a -> TimeUnit.NANOSECONDS.toMicros(a.answerNanos())).sorted().toList();
    }
  }

  /** The {@code percent} percentile of sorted values (nearest rank), or null for none. */
  public static Long percentile(List<Long> sorted, double percent) {
    if (sorted.isEmpty()) {
      return null;
    }
    int rank = (int) Math.ceil(percent / 100 * sorted.size());
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
  }

  private static Answer await(CompletableFuture<Answer> future, Duration timeout, String what)
      throws TimeoutException {
    try {
      return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new TimeoutException(what + " within " + timeout.toMillis() + " ms");
    } catch (ExecutionException e) {
      throw new IllegalStateException("probe failed: " + e.getCause(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted");
    }
  }

  private void onSourceAnswer(Answer answer) {
    sourceAnswers.add(answer);
    if (!firstDestination.isDone()) {
      lastSource = answer;
      firstSource.complete(answer);
    }
  }

  private void onDestinationAnswer(Answer answer) {
    destinationAnswers.add(answer);
    firstDestination.complete(answer);
  }

  private void loop() {
    List<ProbeEndpoint> endpoints = List.of(source, destination);
    try {
      while (running) {
        long now = System.nanoTime();
        for (ProbeEndpoint endpoint : endpoints) {
          endpoint.tick(now, selector);
        }
        selector.select(1);
        for (SelectionKey key : selector.selectedKeys()) {
          ((ProbeEndpoint) key.attachment()).onReady(key, System.nanoTime());
        }
        selector.selectedKeys().clear();
      }
    } catch (IOException | RuntimeException e) {
      firstSource.completeExceptionally(e);
      firstDestination.completeExceptionally(e);
    } finally {
      endpoints.forEach(ProbeEndpoint::close);
      try {
        selector.close();
      } catch (IOException ignored) {
        // nothing left to release
      }
    }
  }

  @Override
  public void close() {
    running = false;
    selector.wakeup();
    try {
      thread.join(2_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
