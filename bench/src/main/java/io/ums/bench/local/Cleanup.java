package io.ums.bench.local;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Undo actions run last-in first-out, exactly once: when the run ends normally, when a step fails, and on
 * Ctrl-C (a JVM shutdown hook), so no namespace, process, tc or iptables rule outlives the bench.
 */
public final class Cleanup implements AutoCloseable {
  private final Deque<NamedAction> actions = new ArrayDeque<>();
  private final Thread hook = new Thread(this::runAll, "ums-cleanup");
  private boolean closed;

  private record NamedAction(String name, Runnable action) {}

  public Cleanup() {
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /** Registers an undo action; returns it as an AutoCloseable that runs it early and forgets it. */
  public synchronized AutoCloseable push(String name, Runnable action) {
    NamedAction entry = new NamedAction(name, action);
    actions.push(entry);
    return () -> {
      boolean pending;
      synchronized (this) {
        pending = actions.remove(entry);
      }
      if (pending) {
        runOne(entry);
      }
    };
  }

  private void runAll() {
    while (true) {
      NamedAction next;
      synchronized (this) {
        closed = true;
        next = actions.poll();
      }
      if (next == null) {
        return;
      }
      runOne(next);
    }
  }

  private static void runOne(NamedAction entry) {
    try {
      entry.action().run();
    } catch (RuntimeException e) {
      System.err.println("cleanup: " + entry.name() + " failed: " + e.getMessage());
    }
  }

  public synchronized boolean isClosed() {
    return closed;
  }

  @Override
  public void close() {
    runAll();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException alreadyShuttingDown) {
      // the hook itself is running us
    }
  }
}
