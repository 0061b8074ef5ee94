package io.ums.agent.criu;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kills a restored process tree if the agent that restored it dies before it was handed over. A restore is
 * only committed once the source has heard that the copy runs; an agent killed before that (kill -9, OOM)
 * leaves the source to roll back and resume, so a copy still running here would run the workload twice,
 * listed by no agent.
 *
 * <p>Two parts, both woken by the kernel closing the agent's end of a pipe when the agent dies, however it
 * dies. The restoring command itself ({@code criu restore}, {@code runc restore}) runs under
 * {@link #startRestorer}: a watcher started with it, before it can do anything, freezes (SIGSTOP) and kills
 * its whole process tree, the restored tasks CRIU forked included, then the root named in the pid file. It
 * holds a lock next to the pid file until that is done. The guard ({@link #arm}), a small shell in a session of
 * its own armed before the restore and disarmed once the copy is handed over, waits for that lock, then kills
 * the restored root named in the pid file (the init of the restored PID namespace, or runc's container init),
 * so the whole tree goes. Waiting for the lock matters: CRIU writes the pid file just before it resumes the
 * tasks, so the file is read only once no restorer can write it any more; and a {@code criu lazy-pages} daemon
 * that outlives the guard (see {@link Tether}) outlives the restorer's end too. Finding the restorer by its
 * command line alone is not enough: during each exec (the JVM's helper, the criu wrapper script, the loader)
 * {@code /proc/<pid>/cmdline} reads empty for a moment, and a restorer the agent had just spawned could
 * appear after the guard looked (seen: a {@code criu restore --lazy-pages} outlived its agent by 20 s).
 * {@link #disarm()} tells the guard the copy is handed over: it exits and leaves the tree alone.
 * Blocking (starts a process): call on a worker.
 */
public final class RestoreGuard implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RestoreGuard.class);
  /**
   * Shell functions: {@code kill_tree PID} kills PID and every descendant, leaving out the caller. Each process
   * is stopped before its children are listed, so none can fork a child that escapes the list (a fork racing
   * with the SIGSTOP is restarted by the kernel after the stop), and a child whose parent is stopped cannot be
   * reparented away; then all are killed and waited for (up to 10 s each).
   */
  private static final String TREE = """
      alive() { s=$(sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | cut -c1); [ -n "$s" ] && [ "$s" != Z ]; }
      stop_tree() {
        [ "$1" = "$self" ] && return
        kill -STOP "$1" 2>/dev/null || return
        tree="$tree $1"
        for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do stop_tree "$child"; done
      }
      kill_tree() {
        read -r self _ </proc/self/stat
        tree=
        stop_tree "$1"
        [ -n "$tree" ] || return 0
        kill -KILL $tree 2>/dev/null
        for dying in $tree; do
          waited=0
          while alive "$dying" && [ "$waited" -lt 200 ]; do sleep 0.05; waited=$((waited + 1)); done
        done
      }
      """;

  /** The guard: $0 the pid file, $1 the restoring command's pid-file flag (the restorer is found by both). */
  private static final String SCRIPT = TREE + """
      read -r verdict
      [ "$verdict" = disarm ] && exit 0
      flock -w 120 "$0.lock" true 2>/dev/null
      for restorer in $(pgrep -f -- "$1 $0"); do kill_tree "$restorer"; done
      pid=$(cat "$0" 2>/dev/null) || exit 0
      [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
      exit 0
      """;

  /**
   * The restoring command's tether: $0 the pid file, "$@" the command. The watcher starts before the command
   * and holds the lock with the shell; the command itself holds neither the lock nor the agent's pipe.
   */
  private static final String RESTORER_SCRIPT = TREE + """
      exec 3<&0 0</dev/null 9>>"$0.lock"
      flock 9
      main=$$
      (
        exec >/dev/null 2>&1
        read -r _ <&3
        kill_tree "$main"
        pid=$(cat "$0" 2>/dev/null) && [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
        exit 0
      ) &
      watcher=$!
      "$@" 3<&- 9>&- &
      child=$!
      exec 3<&-
      wait "$child"
      status=$?
      kill -KILL "$watcher" 2>/dev/null
      exit "$status"
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

  /**
   * Starts {@code restorer}'s command (a {@code criu restore} or {@code runc restore} that writes
   * {@code pidFile}) so that it dies with the agent, with what it restored, whenever the agent dies (see the
   * class comment); the process's exit code is the command's, its output goes where the builder says (its stdin
   * is taken for the tether: the command reads /dev/null). Kill it with {@link Tether#kill}. Blocking.
   */
  public static Process startRestorer(ProcessBuilder restorer, Path pidFile) throws IOException {
    List<String> command = new ArrayList<>(List.of("sh", "-c", RESTORER_SCRIPT, pidFile.toAbsolutePath().toString()));
    command.addAll(restorer.command());
    return restorer.command(command).redirectInput(ProcessBuilder.Redirect.PIPE).start();
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
  public static RestoreGuard armRemoval(String restorerMarker, List<String> removal) throws IOException {
    List<String> command = new ArrayList<>(List.of("setsid", "sh", "-c",
        REMOVAL_SCRIPT, restorerMarker));
    command.addAll(removal);
    Process guard = new ProcessBuilder(command)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
    return new RestoreGuard(guard);
  }

  /** The guard's process; its stdin is the agent's end of the pipe (tests close it: the agent's death). */
  Process process() {
    return guard;
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
