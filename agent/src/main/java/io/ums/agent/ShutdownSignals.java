package io.ums.agent;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import sun.misc.Signal;

/**
 * SIGTERM and SIGINT start a graceful shutdown instead of the JVM's immediate exit (status 143), so the
 * agent can drain and exit 0. A second signal while draining is ignored: the grace period bounds it.
 */
final class ShutdownSignals {
  private ShutdownSignals() {}

  static void onTermination(Consumer<String> shutdown) {
    AtomicBoolean started = new AtomicBoolean();
    for (String name : new String[] {"TERM", "INT"}) {
      Signal.handle(new Signal(name), signal -> {
        if (started.compareAndSet(false, true)) {
          shutdown.accept(signal.getName());
        }
      });
    }
  }
}
