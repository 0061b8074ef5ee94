package io.ums.bench.downtime;

import io.ums.testkit.NetworkTestbed;
import io.ums.bench.local.ChildProcess;
import io.ums.bench.local.Waits;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The memservice started for the CRIU baselines the way the agent starts workloads: in the node's network
 * namespace, as the init of its own PID namespace ({@code unshare --pid --fork}) and as a session leader
 * ({@code setsid}), with /dev/null for stdio, so a plain {@code criu dump -t} takes the whole tree.
 */
final class BaselineWorkload implements AutoCloseable {
  private final ChildProcess unshare;
  private final long pid;

  private BaselineWorkload(ChildProcess unshare, long pid) {
    this.unshare = unshare;
    this.pid = pid;
  }

  static BaselineWorkload start(NetworkTestbed.Node node, Path memservice, int port, List<String> args) {
    List<String> command = new ArrayList<>(List.of("unshare", "--pid", "--fork", "setsid",
        memservice.toString(), String.valueOf(port)));
    command.addAll(args);
    ChildProcess unshare = ChildProcess.start("memservice on " + node.name(), node.inNode(command), null);
    try {
      long[] child = new long[1];
      Waits.until("memservice to start under unshare", Duration.ofSeconds(10), 5, () -> {
        Optional<ProcessHandle> started = unshare.process().children()
            .filter(p -> p.info().command().map(c -> c.endsWith("/memservice")).orElse(false))
            .findFirst();
        started.ifPresent(p -> child[0] = p.pid());
        return started.isPresent();
      });
      return new BaselineWorkload(unshare, child[0]);
    } catch (RuntimeException e) {
      unshare.close();
      throw e;
    }
  }

  /** The memservice's PID in the root PID namespace: what {@code criu dump -t} takes. */
  long pid() {
    return pid;
  }

  @Override
  public void close() {
    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    unshare.close();
  }
}
