package io.ums.agent.migration;

import io.ums.agent.criu.CriuPageServer;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.vertx.core.Future;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Tells a destination session that failed because its session file system is full from one that failed
 * otherwise. Without it a full disk shows up as whatever broke next: the page server dies with ENOSPC, and
 * the relay writing into its socket reports "Broken pipe".
 */
final class DestinationDisk {
  /** Below this much usable space the session's file system counts as full. */
  private static final long FULL_BELOW_BYTES = 1L << 20;
  private static final String ENOSPC = "No space left on device";

  private DestinationDisk() {}

  /** {@code failure}, or DESTINATION_NO_SPACE when the session directory {@code dir} ran out of space. */
  static Future<Throwable> explain(MigrationDeps deps, Path dir, Throwable failure) {
    return deps.vertx().executeBlocking(() -> noSpace(deps.node(), deps.settings().sessionRoot(), dir)
        .<Throwable>map(MigrationFailure.Exception::new).orElse(failure), false).otherwise(failure);
  }

  /** Blocking (statfs and the page server's log). */
  static Optional<MigrationFailure> noSpace(String node, Path sessionRoot, Path dir) throws IOException {
    Path log = dir.resolve(CriuPageServer.LOG);
    boolean logSaysSo = Files.isRegularFile(log) && Files.readString(log).contains(ENOSPC);
    FileStore store = Files.getFileStore(Files.exists(dir) ? dir : sessionRoot);
    long usable = store.getUsableSpace();
    if (!logSaysSo && usable >= FULL_BELOW_BYTES) {
      return Optional.empty();
    }
    return Optional.of(MigrationFailure.of(Code.DESTINATION_NO_SPACE, "node " + node + ": no space left on device"
        + " in " + sessionRoot + " (" + mib(usable) + " free of " + mib(store.getTotalSpace()) + "): the"
        + " workload's checkpoint does not fit the destination's session directory; free space there or give"
        + " the agent a larger one (-Dums.migration.sessionRoot)"));
  }

  private static String mib(long bytes) {
    return (bytes >> 20) + " MiB";
  }
}
