package io.ums.agent.workload;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A process as the kernel knows it: its host PID and its start time (clock ticks after boot, field 22 of
 * {@code /proc/<pid>/stat}). PIDs are recycled; the pair is not, so a restarted agent uses it to tell its
 * workload from a stranger that got the same PID. Blocking (reads /proc): call it on a worker.
 */
public record ProcessIdentity(long pid, long startTime) {
  /** What {@code /proc/<pid>/stat} says about a live process: its identity, parent and state letter. */
  public record Stat(ProcessIdentity identity, long parentPid, char state) {
    public boolean zombie() {
      return state == 'Z' || state == 'X';
    }

    /** Stopped by a signal or a tracer (e.g. left stopped by {@code criu dump --leave-stopped}). */
    public boolean stopped() {
      return state == 'T' || state == 't';
    }
  }

  public static Optional<Stat> stat(long pid) {
    String text;
    try {
      text = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    } catch (IOException e) {
      return Optional.empty();
    }
    // The command name (field 2) is in parentheses and may itself contain spaces and parentheses.
    int end = text.lastIndexOf(')');
    if (end < 0) {
      return Optional.empty();
    }
    String[] fields = text.substring(end + 2).split(" ");
    // fields[0] is field 3 (state), so field N is fields[N - 3].
    char state = fields[0].charAt(0);
    long parent = Long.parseLong(fields[1]);
    long startTime = Long.parseLong(fields[19]);
    return Optional.of(new Stat(new ProcessIdentity(pid, startTime), parent, state));
  }

  /** The identity of {@code pid} if it is running now (not a zombie). */
  public static Optional<ProcessIdentity> of(long pid) {
    return stat(pid).filter(stat -> !stat.zombie()).map(Stat::identity);
  }

  /** True while this very process (same PID and start time) exists and is not a zombie. */
  public boolean alive() {
    return of(pid).map(this::equals).orElse(false);
  }

  /** True while this very process exists and is stopped (SIGSTOP or CRIU's --leave-stopped). */
  public boolean stopped() {
    return stat(pid).filter(stat -> stat.identity().equals(this)).map(Stat::stopped).orElse(false);
  }

  /** SIGKILL, only if the PID still belongs to this process. */
  public void kill() {
    if (alive()) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
  }
}
