package io.ums.agent.migration;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

/** What both drivers are: one migration's id, its status and its completion, on the engine's dependencies. */
abstract class MigrationDriver {
  protected final MigrationDeps deps;
  protected final Vertx vertx;
  protected final String id;
  protected final MigrationStatus status;
  protected final Promise<JsonObject> done = Promise.promise();
  protected final long startNanos = System.nanoTime();

  MigrationDriver(MigrationDeps deps, String id, MigrationStatus.Role role, String subject) {
    this.deps = deps;
    this.vertx = deps.vertx();
    this.id = id;
    this.status = new MigrationStatus(id, role, subject);
  }

  public MigrationStatus status() {
    return status;
  }

  /** The final status, once the migration ended and left nothing behind. */
  public Future<JsonObject> completion() {
    return done.future();
  }

  public MigrationDeps deps() {
    return deps;
  }

  public String id() {
    return id;
  }
}
