package io.ums.bench.local;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waits for a condition of an external process (a port open, an HTTP health answer). */
public final class Waits {
  private Waits() {}

  /** Polls {@code condition} every {@code intervalMillis} until it holds; throws after {@code timeout}. */
  public static void until(String what, Duration timeout, long intervalMillis, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out after " + timeout.toMillis() + " ms waiting for " + what);
      }
      try {
        Thread.sleep(intervalMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted waiting for " + what);
      }
    }
  }
}
