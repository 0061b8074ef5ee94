package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

/** The source side of one migration, whatever the workload kind (a process tree, a runc container). */
interface OutgoingMigration {
  MigrationStatus status();

  Future<JsonObject> completion();

  void start();

  /** Rolls back unless the switchover is already decided. Callable from any thread. */
  void abort(MigrationFailure.Code code, String why);
}
