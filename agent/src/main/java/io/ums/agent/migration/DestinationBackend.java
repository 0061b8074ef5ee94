package io.ums.agent.migration;

import io.ums.protocol.IncomingChannel;
import io.vertx.core.Future;
import java.nio.file.Path;
import java.util.Optional;

/**
 * One way of moving a workload, its destination side: what it receives and how it restores. The {@link
 * DestinationDriver} owns the rest (the connection, the restore request, the result, abort rules, status,
 * the session directory) and calls these on the connection's event loop; an asynchronous failure goes to
 * {@link ReceiveSession#fail}.
 */
interface DestinationBackend {
  /** The session directory this backend's files go into. */
  Path dir();

  /** The source connected: start what must run before its first bytes arrive (a page server). */
  default void attached() {}

  /**
   * The data connection closed or broke (the driver may be restoring and ignore it): a backend whose restored
   * workload depends on the source still (post-copy) fences it.
   */
  default void connectionLost(String why) {}

  /** Takes a channel the source opened (not the restore request); false for a kind it does not expect. */
  boolean accept(IncomingChannel channel);

  /**
   * Everything is sent: waits for what is still arriving, restores (calling {@link ReceiveSession#beginRestore}
   * when the restore proper begins), and completes with the result.
   */
  Future<MigrationResult> restore(RestoreManifest manifest);

  /** The source did not take the result: undoes the restore (the workload must never run twice). */
  Future<Void> undo(MigrationResult result);

  /**
   * Whether an abort that came during the restore still fails the session once the restore ended (what it
   * made is then removed by {@link #release}); otherwise the restore is the point of no return.
   */
  default boolean abortableWhileRestoring() {
    return false;
  }

  /**
   * A better account of {@code failure} where this backend has one (a full session directory rather than
   * what broke next); never fails.
   */
  default Future<Throwable> explain(Throwable failure) {
    return Future.succeededFuture(failure);
  }

  /** Completes when nothing is written into the session any more (whatever the outcome). */
  default Future<Void> quiesce() {
    return Future.succeededFuture();
  }

  /** At the end (blocking): stops what still runs and, when {@code failed}, removes what the session added. */
  void release(boolean failed);

  /** Puts this backend's byte counts into the status (the driver adds wire and raw). */
  default void countBytes(MigrationStatus status) {}

  /** Where the logs a failed session keeps are, when it keeps any. */
  default Optional<Path> logs() {
    return Optional.of(dir());
  }
}
