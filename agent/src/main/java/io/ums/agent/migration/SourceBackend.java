package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.protocol.IncomingChannel;
import io.vertx.core.Future;

/**
 * One way of moving a workload, its source side: how to prepare, checkpoint and send it, and what commit and
 * rollback mean for it. The {@link SourceDriver} owns everything else (the data connection, deadline,
 * progress, status, result, session directory, closing) and calls these in order on its event loop; a step is
 * not called once the migration has ended, and an asynchronous failure goes to {@link SourceSession#fail}.
 */
interface SourceBackend {
  /** Local preparation that needs no connection: it runs while the data connection opens. */
  Future<Void> prepare();

  /** Checkpoints the workload (the data connection is open), streaming what it already can. */
  Future<Void> checkpoint();

  /** Sends the rest of the checkpoint; completes with the restore request that follows it. */
  Future<RestoreManifest> send();

  /** A channel the destination opened, other than the result; false when this backend expects none such. */
  default boolean onPeerChannel(IncomingChannel channel) {
    return false;
  }

  /** The destination runs the workload: records what it reported, then ends the source's part. */
  Future<Void> commit(MigrationResult result);

  /**
   * Brings the source back after {@code failure}: completes with ROLLED_BACK once it runs again (FAILED where
   * nothing ever stopped), or fails with the reason it could not be brought back.
   */
  Future<MigrationPhase> rollBack(MigrationFailure failure);

  /** Puts this backend's byte counts into the status (the driver adds the wire bytes). */
  void countBytes(MigrationStatus status);

  /** Where, in the session directory, the logs of a failed migration are. */
  default String logsSubdirectory() {
    return "";
  }
}
