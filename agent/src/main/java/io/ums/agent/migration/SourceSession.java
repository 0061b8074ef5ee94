package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.nio.file.Path;
import java.util.function.Supplier;

/** What a {@link SourceBackend} gets from its driver. */
interface SourceSession {
  MigrationDeps deps();

  String id();

  MigrationStatus status();

  Context context();

  /** The data connection, once open (before {@link SourceBackend#checkpoint}). */
  UmsConnection connection();

  /** The data connection as it opens: a backend may start sending during {@link SourceBackend#prepare}. */
  Future<UmsConnection> connected();

  /** The session directory on the session root (tmpfs), created before {@link SourceBackend#prepare}. */
  Path dir();

  /** Whether the migration has ended (committing, failed or done): a late step then does nothing. */
  boolean finishing();

  /** Fails the migration (and rolls it back) unless it has already ended. */
  void fail(MigrationFailure failure);

  /** A failure the data connection reported: it fails the migration and may explain one already seen. */
  void failFromPeer(MigrationFailure failure);

  /** Closes {@code resource} when the migration ends, or right away if it already has. */
  void closeOnFinish(Supplier<Future<?>> resource);
}
