package io.ums.agent.criu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CRIU processes a previous run of this agent left working on its sessions: a restarting agent kills them
 * before it deletes their session directories. Its helpers normally die with it ({@link Tether},
 * {@link RestoreGuard}); this is the second line, for a helper whose guard was killed as well, or one started
 * by an agent without tethers. A CRIU process is the agent's when one of its arguments lies inside the
 * agent's session root (every session's images and work directories do; the root is this agent's own).
 * Blocking.
 */
public final class OrphanedCriu {
  private static final Logger LOG = LoggerFactory.getLogger(OrphanedCriu.class);
  private static final long GONE_MILLIS = 5_000;

  private OrphanedCriu() {}

  /**
   * Kills every CRIU process working inside {@code sessionRoot} but not in one of {@code kept} (sessions a
   * restart keeps, e.g. a source dump held for its verdict) and waits until they are gone; their pids.
   */
  public static List<Long> reap(Path sessionRoot, java.util.Collection<Path> kept) throws IOException {
    String root = sessionRoot.toAbsolutePath().normalize() + "/";
    List<String> keptDirs = kept.stream().map(dir -> dir.toAbsolutePath().normalize() + "/").toList();
    List<ProcessHandle> found = new ArrayList<>();
    try (Stream<Path> processes = Files.list(Path.of("/proc"))) {
      for (Path proc : processes.filter(OrphanedCriu::isPid).toList()) {
        String[] arguments = arguments(proc);
        if (isCriu(arguments) && Arrays.stream(arguments).anyMatch(arg -> arg.startsWith(root))
            && Arrays.stream(arguments).noneMatch(arg -> keptDirs.stream().anyMatch(dir -> (arg + "/").startsWith(dir)))) {
          ProcessHandle.of(Long.parseLong(proc.getFileName().toString())).ifPresent(found::add);
        }
      }
    }
    found.forEach(ProcessHandle::destroyForcibly);
    long deadline = System.nanoTime() + GONE_MILLIS * 1_000_000;
    for (ProcessHandle process : found) {
      while (process.isAlive() && ProcessTree.alive(process.pid()) && System.nanoTime() < deadline) {
        try {
          Thread.sleep(5);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    List<Long> pids = found.stream().map(ProcessHandle::pid).toList();
    if (!pids.isEmpty()) {
      LOG.warn("killed {} CRIU process(es) a previous run of this agent left on its sessions: {}", pids.size(), pids);
    }
    return pids;
  }

  private static boolean isPid(Path proc) {
    return proc.getFileName().toString().chars().allMatch(Character::isDigit);
  }

  /** CRIU runs as itself or through its bundled loader ({@code ld-linux --library-path … criu}). */
  private static boolean isCriu(String[] arguments) {
    return Arrays.stream(arguments).limit(4).anyMatch(arg -> arg.equals("criu") || arg.endsWith("/criu"));
  }

  private static String[] arguments(Path proc) {
    try {
      return new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8).split("\0");
    } catch (IOException e) {
      return new String[0];
    }
  }
}
