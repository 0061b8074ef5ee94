package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The wiring every migration, either role, gives its data connection and its deadline. */
final class MigrationEvents {
  private static final Logger LOG = LoggerFactory.getLogger(MigrationEvents.class);

  private MigrationEvents() {}

  /**
   * How every migration ends its status: the total time since {@code startNanos}, the final phase, and one
   * log line with the timings and bytes. Returns the final status.
   */
  static JsonObject conclude(MigrationStatus status, MigrationPhase phase, long startNanos) {
    status.timing("totalMs", millis(startNanos, System.nanoTime()));
    status.phase(phase);
    JsonObject json = status.toJson();
    LOG.info("migration {} {}: timings {} bytes {}", status.id(), phase, json.getJsonObject("timings"),
        json.getJsonObject("bytes"));
    return json;
  }

  /** Milliseconds between two System.nanoTime() readings; -1 when either was never taken (negative). */
  static long millis(long fromNanos, long toNanos) {
    return fromNanos < 0 || toNanos < 0 ? -1 : TimeUnit.NANOSECONDS.toMillis(toNanos - fromNanos);
  }

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
