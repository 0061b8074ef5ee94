package io.ums.agent.migration;

import io.ums.agent.migration.MigrationFailure.Code;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;

/** The wiring every migration, either role, gives its data connection and its deadline. */
final class MigrationEvents {
  private MigrationEvents() {}

  /**
   * Routes the connection's channels to {@code channels}, its close to {@code fail} with {@code closed}, and a
   * protocol error to {@code fail} as what it is.
   */
  static void route(UmsConnection connection, Handler<IncomingChannel> channels, MigrationFailure closed,
                    Handler<MigrationFailure> fail) {
    connection.channelHandler(channels);
    connection.closeHandler(ignored -> fail.handle(closed));
    connection.exceptionHandler(failure -> fail.handle(Failures.classify(failure, Code.PROTOCOL_ERROR)));
  }

  /** The source's side: the destination going away is CONNECTION_LOST. */
  static void routeToDestination(UmsConnection connection, Handler<IncomingChannel> channels,
                                 Handler<MigrationFailure> fail) {
    route(connection, channels, MigrationFailure.of(Code.CONNECTION_LOST,
        "the data connection to the destination closed"), fail);
  }

  /** The destination's side: the source going away is SOURCE_GONE. */
  static void routeFromSource(UmsConnection connection, Handler<IncomingChannel> channels,
                              Handler<MigrationFailure> fail) {
    route(connection, channels, MigrationFailure.of(Code.SOURCE_GONE, "the source closed the data connection"),
        fail);
  }

  /** Fails the migration with TIMEOUT once the configured migration timeout has passed; returns the timer. */
  static long deadline(Vertx vertx, MigrationSettings settings, Handler<MigrationFailure> fail) {
    return vertx.setTimer(settings.migrationTimeout().toMillis(), ignored -> fail.handle(MigrationFailure.of(
        Code.TIMEOUT, "not done within " + settings.migrationTimeout().toSeconds() + " s")));
  }

  /** Runs {@code action} on the migration's event loop, or right away when it has none yet. */
  static void onContext(Context context, Runnable action) {
    if (context == null) {
      action.run();
    } else {
      context.runOnContext(ignored -> action.run());
    }
  }
}
