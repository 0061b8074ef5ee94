package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

/**
 * The destination side of one migration, whatever it receives (a CRIU process tree, a container, a kubelet
 * checkpoint archive): a receive session from POST /v1/receive until it is done or has left nothing behind.
 */
interface IncomingMigration {
  MigrationStatus status();

  Future<JsonObject> completion();

  /** The source connected and proved the token. Called on the connection's event loop. */
  void attach(UmsConnection connection);

  /** Fails the session unless it is past the point of no return. Callable from any thread. */
  void abort(MigrationFailure.Code code, String why);

  /** The session never got a source (expired) or the agent is draining. */
  void expire(String why);
}
