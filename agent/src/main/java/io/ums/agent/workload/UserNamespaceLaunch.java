package io.ums.agent.workload;

import io.ums.agent.criu.WorkloadMounts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The launch of a workload whose program must not run as root (PostgreSQL refuses to) yet must stay
 * movable by an agent without {@code CAP_SYS_RESOURCE}. The program runs as the requested user inside a user
 * namespace the agent owns, mapped one to one onto the host's ids (so files keep their owners and the
 * program is the requested user on the host as well), together with its own mount, PID and IPC namespaces.
 * What that buys, checked against CRIU 4.2.1 on kernel 6.18:
 * <ul>
 *   <li>the agent, as the namespace's owner, holds every capability inside it, so the kernel lets CRIU read
 *       the resource limits of another user's process ({@code prlimit}, "Can't get rlimit 0" otherwise);</li>
 *   <li>the mount namespace has a /proc of the workload's own PID namespace ({@code --mount-proc}), so
 *       CRIU's parasite finds one without mounting it from inside a process that holds no capability
 *       ("Can't get proc fd" otherwise);</li>
 *   <li>CRIU then dumps the user and mount namespaces with the tree: before the user namespace is made, a
 *       private mount namespace drops every mount but {@link #KEPT_MOUNTS} (the host's others, e.g. other
 *       workloads' /run/netns entries, come and go and are not on the destination), and stdin is reopened
 *       inside, where /dev/null is under the namespace's own /dev.</li>
 * </ul>
 * The cost: live TCP connections cannot be restored into it (TCP repair needs {@code CAP_NET_ADMIN} over
 * the host's network namespace: "Can't turn TCP repair mode ON"); they come back closed. Blocking.
 */
final class UserNamespaceLaunch {
  /** Mount points the workload keeps; dumped as external mounts and bound from the destination's own. */
  static final List<String> KEPT_MOUNTS = WorkloadMounts.KEPT;
  /** One to one onto the host's ids: the whole range but the invalid id 4294967295. */
  private static final String IDENTITY_MAP = "0 0 4294967295\n";
  private static final long NAMESPACE_TIMEOUT_MILLIS = 5_000;
  // $0: INNER, $@: uid gid command... Runs in the private mount namespace, still root of the host's user
  // namespace, so the unmounts are allowed and not locked.
  private static final String PRUNE = "for m in $(awk '{print $5}' /proc/self/mountinfo | sort -r); do"
      + " case \"$m\" in /|/proc|" + String.join("|", KEPT_MOUNTS) + ") ;; *) umount -l \"$m\" 2>/dev/null;; esac;"
      + " done; exec unshare --user --mount --mount-proc --pid --ipc --fork -- sh -c \"$0\" \"$@\"";
  // $0: uid, $1: gid, then the command. The namespace init waits for the agent's id maps, then drops to the
  // user; setpriv's execve leaves it without capabilities, as any process of that user.
  private static final String INNER = "until read -r map < /proc/self/gid_map && [ -n \"$map\" ]; do sleep 0.01;"
      + " done; gid=$1; shift; exec setpriv --reuid=\"$0\" --regid=\"$gid\" --clear-groups -- setsid -- \"$@\""
      + " </dev/null";

  /** The command to start and the argv its namespace init shows on its way to the program. */
  record Plan(List<String> command, List<List<String>> stages) {}

  private UserNamespaceLaunch() {}

  static Plan plan(UserIds ids, List<String> program) {
    List<String> tail = new ArrayList<>(List.of(Long.toString(ids.uid()), Long.toString(ids.gid())));
    tail.addAll(program);
    List<String> command = new ArrayList<>(List.of("setsid", "unshare", "--mount", "--propagation", "private",
        "--", "sh", "-c", PRUNE, INNER));
    command.addAll(tail);
    List<String> unshare = new ArrayList<>(List.of("unshare", "--user", "--mount", "--mount-proc", "--pid",
        "--ipc", "--fork", "--", "sh", "-c", INNER));
    unshare.addAll(tail);
    List<String> shell = new ArrayList<>(List.of("sh", "-c", INNER));
    shell.addAll(tail);
    List<String> setpriv = new ArrayList<>(List.of("setpriv", "--reuid=" + ids.uid(), "--regid=" + ids.gid(),
        "--clear-groups", "--", "setsid", "--"));
    setpriv.addAll(program);
    List<String> setsid = new ArrayList<>(List.of("setsid", "--"));
    setsid.addAll(program);
    return new Plan(command, List.of(unshare, shell, setpriv, setsid));
  }

  /**
   * Once {@code unshare} (pid {@code launcher}) made the user namespace, maps its ids one to one onto the
   * host's; false when the launcher ended first.
   */
  static boolean mapIds(Process launcher) throws IOException {
    Path proc = Path.of("/proc", Long.toString(launcher.pid()));
    Path agentNamespace = Files.readSymbolicLink(Path.of("/proc/self/ns/user"));
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(NAMESPACE_TIMEOUT_MILLIS);
    while (System.nanoTime() < deadline) {
      Optional<Path> namespace = link(proc.resolve("ns/user"));
      if (namespace.isEmpty() || !launcher.isAlive()) {
        return false;
      }
      if (!namespace.get().equals(agentNamespace)) {
        Files.writeString(proc.resolve("uid_map"), IDENTITY_MAP);
        Files.writeString(proc.resolve("gid_map"), IDENTITY_MAP);
        return true;
      }
      try {
        Thread.sleep(2);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while starting the workload", e);
      }
    }
    launcher.destroyForcibly();
    throw new IOException("unshare (pid " + launcher.pid() + ") made no user namespace within "
        + NAMESPACE_TIMEOUT_MILLIS + " ms");
  }

  private static Optional<Path> link(Path path) {
    try {
      return Optional.of(Files.readSymbolicLink(path));
    } catch (IOException e) {
      return Optional.empty();
    }
  }
}
