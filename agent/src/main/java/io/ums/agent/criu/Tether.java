package io.ums.agent.criu;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts a helper command (a {@code criu page-server}, a {@code criu lazy-pages} daemon) so that it dies with
 * the agent, however the agent dies (kill -9, OOM): an orphaned page server would otherwise listen forever
 * for a dump that never comes, holding its session's images (issue 15, item 1).
 *
 * <p>The command runs under a small shell in a process group of its own ({@code setsid}). A watcher in that
 * group blocks reading a pipe whose only writer is the agent (the started process's stdin): the kernel closes
 * the agent's end when the agent dies, and the watcher then kills the whole group. When the command ends by
 * itself the shell stops the watcher and exits with the command's status, so callers see the command's exit
 * code. {@link Process#destroyForcibly()} still ends the command: the JVM closes the pipe when it kills the
 * shell. Given pids to outlive, the watcher first waits (up to a minute) until those processes are gone: the
 * lazy-pages daemon must keep its userfaultfds until its guard has killed the restored tree (see
 * {@link LazyPagesGuard}, and the {@link RestoreGuard} of a restore still at work), or the tree would run on
 * zero-filled pages for a moment.
 */
public final class Tether {
  private static final String SCRIPT = """
      exec 3<&0 0</dev/null
      "$@" 3<&- &
      child=$!
      (
        read -r _ <&3
        alive() { s=$(sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | cut -c1); [ -n "$s" ] && [ "$s" != Z ]; }
        waited=0
        for first in $0; do
          while [ "$first" != - ] && alive "$first" && [ "$waited" -lt 600 ]; do sleep 0.1; waited=$((waited + 1)); done
        done
        kill -KILL 0
      ) &
      watcher=$!
      exec 3<&-
      wait "$child"
      status=$?
      kill -KILL "$watcher" 2>/dev/null
      exit "$status"
      """;

  private Tether() {}

  /**
   * Kills a tethered command and everything it started, and waits (up to {@code timeoutMillis}) until they
   * are gone: {@link Process#destroyForcibly()} alone kills the tether's shell at once and leaves the command
   * to its watcher, a moment later. Blocking.
   */
  public static void kill(Process tethered, long timeoutMillis) {
    List<ProcessHandle> all = new ArrayList<>(tethered.descendants().toList());
    all.add(tethered.toHandle());
    all.forEach(ProcessHandle::destroyForcibly);
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
    for (ProcessHandle process : all) {
      while (process.isAlive() && ProcessTree.alive(process.pid()) && System.nanoTime() < deadline) {
        try {
          Thread.sleep(2);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  /**
   * Starts {@code builder}'s command tethered to this agent (its stdin is taken for the tether; the command
   * reads /dev/null); it is killed only once every process of {@code outlive} is gone too. Blocking.
   */
  public static Process start(ProcessBuilder builder, List<Long> outlive) throws IOException {
    String pids = outlive.isEmpty() ? "-" : String.join(" ", outlive.stream().map(String::valueOf).toList());
    List<String> command = new ArrayList<>(List.of("setsid", "sh", "-c", SCRIPT, pids));
    command.addAll(builder.command());
    return builder.command(command).redirectInput(ProcessBuilder.Redirect.PIPE).start();
  }
}
