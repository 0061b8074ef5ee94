package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.protocol.UmsConnection;

/** What a {@link DestinationBackend} gets from its driver. */
interface ReceiveSession {
  MigrationDeps deps();

  String id();

  MigrationStatus status();

  /** The data connection, once the source connected. */
  UmsConnection connection();

  /** Whether the session has ended (or is ending). */
  boolean finishing();

  /**
   * The restore begins: from here a failure of the transfer no longer fails the session on its own, and an
   * abort applies only to a backend that can still undo its restore.
   */
  void beginRestore();

  /** Fails the session unless it has ended or is restoring. */
  void fail(MigrationFailure failure);
}
