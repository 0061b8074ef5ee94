package io.ums.agent.criu;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kills a restored process tree if the agent that restored it dies before it was handed over. A restore is
 * only committed once the source has heard that the copy runs; an agent killed before that (kill -9, OOM)
 * leaves the source to roll back and resume, so a copy still running here would run the workload twice,
 * listed by no agent.
 *
 * <p>The guard is a small shell in a session of its own that blocks reading a pipe from the agent. The
 * kernel closes the agent's end when the agent dies, however it dies: the guard then sends SIGKILL to the
 * restoring command of this session ({@code criu restore}, or {@code runc restore} and the CRIU under it,
 * found by its unique pid file argument) and to everything it forked, then to the restored root named in
 * the pid file (for runc, the container's init). The root is the init of the
 * restored PID namespace, so the whole tree goes. {@link #disarm()} tells it the copy is handed over: it exits and leaves the tree alone.
 * Blocking (starts a process): call on a worker.
 */
public final class RestoreGuard implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RestoreGuard.class);
  private static final String SCRIPT = """
      read -r verdict
      [ "$verdict" = disarm ] && exit 0
      kill_tree() {
        for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do kill_tree "$child"; done
        kill -KILL "$1" 2>/dev/null
      }
      for restorer in $(pgrep -f -- "$1 $0"); do kill_tree "$restorer"; done
      pid=$(cat "$0" 2>/dev/null) || exit 0
      [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
      exit 0
      """;

  /**
   * For a runtime that keeps the container itself (podman): lets the restoring command finish (killed half
   * way, podman loses track of a container that then runs on), then runs the removal.
   */
  private static final String REMOVAL_SCRIPT = """
      read -r verdict
      [ "$verdict" = disarm ] && exit 0
      # the marker is among this shell's own arguments too: only other processes count
      restoring() { pgrep -f -- "$0" | grep -qvx "$$"; }
      waited=0
      while restoring && [ "$waited" -lt 300 ]; do sleep 0.2; waited=$((waited + 1)); done
      exec "$@"
      """;

  private final Process guard;
  private final OutputStream agentEnd;

  private RestoreGuard(Process guard) {
    this.guard = guard;
    this.agentEnd = guard.getOutputStream();
  }

  /** Arms a guard over the {@code criu restore} that writes {@code pidFile} ({@code --pidfile}). */
  public static RestoreGuard arm(Path pidFile) throws IOException {
    return arm(pidFile, "--pidfile");
  }

  /**
   * Arms a guard over the restoring command that writes {@code pidFile}, given to it as
   * {@code pidFileFlag pidFile} (runc: {@code --pid-file}).
   */
  public static RestoreGuard arm(Path pidFile, String pidFileFlag) throws IOException {
    Process guard = new ProcessBuilder("setsid", "sh", "-c", SCRIPT, pidFile.toAbsolutePath().toString(),
            pidFileFlag)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
    return new RestoreGuard(guard);
  }

  /**
   * Arms a guard over a restore by a runtime that keeps the container itself (podman): on the agent's death
   * it waits (up to a minute) for the command whose arguments contain {@code restorerMarker} to end, then runs
   * {@code removal} (e.g. {@code podman rm -f NAME}).
   */
  public static RestoreGuard armRemoval(String restorerMarker, java.util.List<String> removal) throws IOException {
    java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of("setsid", "sh", "-c",
        REMOVAL_SCRIPT, restorerMarker));
    command.addAll(removal);
    Process guard = new ProcessBuilder(command)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
    return new RestoreGuard(guard);
  }

  /** The guard's own process (a helper that must outlive it waits for it: see {@link Tether}). */
  public long pid() {
    return guard.pid();
  }

  /** The restored tree is handed over (or already removed by the agent): the guard leaves it alone. */
  public void disarm() {
    try {
      agentEnd.write("disarm\n".getBytes(StandardCharsets.US_ASCII));
      agentEnd.close();
    } catch (IOException e) {
      LOG.warn("restore guard (pid {}) could not be disarmed: {}", guard.pid(), e.getMessage());
    }
  }

  @Override
  public void close() {
    disarm();
  }
}
