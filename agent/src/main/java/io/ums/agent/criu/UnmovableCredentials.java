package io.ums.agent.criu;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Workloads whose processes gave up root in a way CRIU cannot dump, refused before anything is frozen (CRIU
 * would fail a few hundred milliseconds into the dump with a bare "Operation not permitted"):
 * <ul>
 *   <li>the PID namespace's init (the workload's first process) without {@code CAP_SYS_ADMIN}, e.g. a program
 *       started through {@code setpriv}/{@code exec} under another user: CRIU's parasite mounts a /proc for
 *       the workload's PID namespace from inside that process, which needs the capability ("Can't get proc
 *       fd"). A parent that stays root ({@code runuser -u USER -- ...}, {@code su USER -c ...}) is the
 *       init instead, and the program below it may run as any user;</li>
 *   <li>a process under another user or group than the agent's while the agent itself runs without
 *       {@code CAP_SYS_RESOURCE} (a container that dropped it): CRIU reads every process's resource limits
 *       with {@code prlimit}, which the kernel then refuses ("Can't get rlimit 0").</li>
 * </ul>
 * Neither applies to a workload launched with a {@code user}: it runs in a user namespace of its own
 * ({@link WorkloadMounts}). Blocking (reads /proc).
 */
public final class UnmovableCredentials {
  private static final int CAP_SYS_ADMIN = 21;
  private static final int CAP_SYS_RESOURCE = 24;

  private UnmovableCredentials() {}

  /** Why the tree rooted at {@code init} cannot be dumped by this agent, or empty. */
  public static Optional<String> find(long init, List<Long> tree) {
    if (WorkloadMounts.inOwnUserNamespace(init)) {
      // launched with a user (ProcessLauncher): the agent owns the namespace, so holds every capability in
      // it, and the namespace's own /proc spares the parasite its mount
      return Optional.empty();
    }
    Optional<BigInteger> initCapabilities = effectiveCapabilities(Path.of("/proc", Long.toString(init), "status"));
    if (initCapabilities.isPresent() && !initCapabilities.get().testBit(CAP_SYS_ADMIN)) {
      return Optional.of("its first process (pid " + init + ", " + ids(init).orElse("?") + ") runs without"
          + " CAP_SYS_ADMIN: CRIU mounts a /proc for the workload's PID namespace from inside that process, which"
          + " needs it; start the program under a parent that stays root (runuser -u USER -- COMMAND, or su)"
          + " rather than dropping privileges in the first process (setpriv, exec)");
    }
    Path self = Path.of("/proc/self/status");
    boolean agentMayReadLimits = effectiveCapabilities(self).map(caps -> caps.testBit(CAP_SYS_RESOURCE)).orElse(true);
    if (agentMayReadLimits) {
      return Optional.empty();
    }
    Optional<String> agentIds = ids(self);
    for (long pid : tree) {
      Optional<String> processIds = ids(Path.of("/proc", Long.toString(pid), "status"));
      if (processIds.isPresent() && agentIds.isPresent() && !processIds.equals(agentIds)) {
        return Optional.of("its process " + pid + " runs as " + processIds.get() + ", not as the agent ("
            + agentIds.get() + "), and this agent runs without CAP_SYS_RESOURCE: the kernel refuses CRIU the"
            + " resource limits of another user's process; give the agent CAP_SYS_RESOURCE or run the workload"
            + " as the agent's user");
      }
    }
    return Optional.empty();
  }

  /**
   * Why the tree rooted at {@code init} cannot move post-copy, or empty: inside a user namespace of its own
   * the restored tasks open their userfaultfd themselves, which the kernel refuses them while
   * {@code vm.unprivileged_userfaultfd} is 0 (CRIU: "Unable to open an userfaultfd descriptor: Operation not
   * permitted"). Read on the source, standing for the destination's kernel (the same cluster setting).
   */
  public static Optional<String> findForPostCopy(long init) {
    if (!WorkloadMounts.inOwnUserNamespace(init)) {
      return Optional.empty();
    }
    String allowed;
    try {
      allowed = Files.readString(Path.of("/proc/sys/vm/unprivileged_userfaultfd")).trim();
    } catch (IOException e) {
      allowed = "0";
    }
    if (allowed.equals("1")) {
      return Optional.empty();
    }
    return Optional.of("it runs as another user in a user namespace of its own (launched with a user), where"
        + " the restored tasks may not open the userfaultfd post-copy needs while vm.unprivileged_userfaultfd is"
        + " 0; move it stop-and-copy");
  }

  private static Optional<String> ids(long pid) {
    return ids(Path.of("/proc", Long.toString(pid), "status"));
  }

  /** "uid R/E/S gid R/E/S" of a status file: the ids the kernel compares for prlimit. */
  private static Optional<String> ids(Path status) {
    Optional<String> uids = field(status, "Uid:");
    Optional<String> gids = field(status, "Gid:");
    if (uids.isEmpty() || gids.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of("uid " + firstThree(uids.get()) + " gid " + firstThree(gids.get()));
  }

  private static String firstThree(String ids) {
    String[] parts = ids.trim().split("\\s+");
    return String.join("/", List.of(parts).subList(0, Math.min(3, parts.length)));
  }

  private static Optional<BigInteger> effectiveCapabilities(Path status) {
    try {
      return field(status, "CapEff:").map(hex -> new BigInteger(hex.trim(), 16));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  private static Optional<String> field(Path status, String name) {
    try {
      for (String line : Files.readAllLines(status)) {
        if (line.startsWith(name)) {
          return Optional.of(line.substring(name.length()));
        }
      }
    } catch (IOException | SecurityException e) {
      // the process ended meanwhile: nothing of it to move
    }
    return Optional.empty();
  }
}
