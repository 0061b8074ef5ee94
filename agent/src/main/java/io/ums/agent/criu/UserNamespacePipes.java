package io.ums.agent.criu;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets CRIU recreate the pipes of a tree restored into a user namespace of its own, whatever else on the node
 * holds pipe buffers. CRIU recreates those pipes as root of that namespace: the kernel charges their buffers
 * to the host's root, yet treats their creator as unprivileged (it holds no capability over the host). Once
 * root's pipe buffers on the node exceed {@code fs.pipe-user-pages-soft} (CRIU's page pipes of a concurrent
 * dump or of a post-copy source easily hold more than the default 64 MiB), the kernel creates each such pipe
 * with two pages and refuses CRIU's {@code F_SETPIPE_SZ} back to the dumped size: "Can't restore pipe size:
 * Operation not permitted", and the migration rolls back. So before such a restore the soft limit is lifted
 * (set to 0). The setting is host-wide and shared by concurrent restores, so it stays lifted; the hard limit
 * ({@code fs.pipe-user-pages-hard}) is left as it is. Blocking.
 */
final class UserNamespacePipes {
  static final Path SOFT_LIMIT = Path.of("/proc/sys/fs/pipe-user-pages-soft");
  private static final Logger LOG = LoggerFactory.getLogger(UserNamespacePipes.class);

  private UserNamespacePipes() {}

  /** Lifts the soft limit at {@code sysctl} unless it is lifted already; when it cannot, says why in the log. */
  static synchronized void liftSoftLimit(Path sysctl) {
    try {
      String pages = read(sysctl);
      if (pages.equals("0")) {
        return;
      }
      Files.writeString(sysctl, "0\n");
      LOG.info("lifted {} (was {} pages): CRIU restores pipes inside a workload's user namespace, charged to the "
          + "host's root, whose pipes on this node may exceed it", sysctl, pages);
    } catch (IOException e) {
      LOG.warn("could not lift {} ({}): a restore into a user namespace fails with \"Can't restore pipe size\" "
          + "while root's pipes on this node exceed it", sysctl, e.toString());
    }
  }

  /**
   * In one read from offset 0: a sysctl answers nothing at any other offset, and Files.readString, reading
   * the (size 0) file a byte first, got "1" of "16384".
   */
  static String read(Path sysctl) throws IOException {
    try (InputStream in = Files.newInputStream(sysctl)) {
      return new String(in.readNBytes(64), StandardCharsets.US_ASCII).trim();
    }
  }
}
