package io.ums.bench.local;

import io.ums.host.HostCommand;
import io.ums.testkit.NetworkTestbed;
import java.util.ArrayList;
import java.util.List;

/** Removes what runs inside a node's network namespace: its processes and the iptables locks CRIU leaves. */
public final class NodeSweeper {
  /** CRIU's connection-lock rules carry this packet mark (SOCCR_MARK in criu/soccr). */
  private static final String CRIU_LOCK_MARK = "0xc114";

  private NodeSweeper() {}

  /** SIGKILL to every process in the namespace (a restored PID-namespace init ignores SIGTERM). */
  public static void killAll(String netns) {
    for (long pid : pids(netns)) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
  }

  /** SIGKILL to the processes in the namespace whose command name is {@code comm}. */
  public static void kill(String netns, String comm) {
    for (long pid : pids(netns)) {
      ProcessHandle.of(pid)
          .filter(p -> p.info().command().map(c -> c.endsWith("/" + comm) || c.equals(comm)).orElse(false))
          .ifPresent(ProcessHandle::destroyForcibly);
    }
  }

  public static List<Long> pids(String netns) {
    HostCommand.Result result = HostCommand.run("ip", "netns", "pids", netns);
    List<Long> pids = new ArrayList<>();
    if (!result.ok()) {
      return pids;
    }
    for (String line : result.output().split("\n")) {
      if (!line.isBlank()) {
        pids.add(Long.parseLong(line.trim()));
      }
    }
    return pids;
  }

  /** Deletes the DROP rules a tcp-established dump leaves in the node (it keeps peers from seeing a RST). */
  public static int removeCriuLocks(NetworkTestbed.Node node) {
    HostCommand.Result saved = HostCommand.run(node.inNode(List.of("iptables-save")));
    if (!saved.ok()) {
      return 0;
    }
    int removed = 0;
    for (String line : saved.output().split("\n")) {
      if (line.startsWith("-A ") && line.contains(CRIU_LOCK_MARK)) {
        List<String> delete = new ArrayList<>(List.of("iptables", "-D"));
        delete.addAll(List.of(line.substring(3).trim().split("\\s+")));
        if (HostCommand.run(node.inNode(delete)).ok()) {
          removed++;
        }
      }
    }
    return removed;
  }

  /** The CRIU lock rules currently in the node, for tests that assert nothing was left. */
  public static long criuLockCount(NetworkTestbed.Node node) {
    HostCommand.Result saved = HostCommand.run(node.inNode(List.of("iptables-save")));
    return saved.ok() ? saved.output().lines().filter(l -> l.contains(CRIU_LOCK_MARK)).count() : 0;
  }
}
