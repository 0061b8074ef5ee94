package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.TimeUnit;

/** The destination's verdict on a migration ({@link Channels#RESULT}), both ends of it. */
final class ResultChannel {
  /** How long a failing destination tries to tell the source why before it gives up on the connection. */
  private static final long FAILURE_REPORT_SECONDS = 2;

  private ResultChannel() {}

  /** Destination: reports success. */
  static Future<Void> send(UmsConnection connection, MigrationResult result) {
    return connection.openChannel(Channels.RESULT, result.toJson()).compose(OutgoingChannel::end);
  }

  /** Destination: tells the source why the session failed, if it still listens; never fails. */
  static Future<Void> sendFailure(UmsConnection connection, MigrationFailure failure) {
    if (connection == null) {
      return Future.succeededFuture();
    }
    return connection.openChannel(Channels.RESULT, MigrationResult.failed(failure).toJson())
        .compose(OutgoingChannel::end)
        .timeout(FAILURE_REPORT_SECONDS, TimeUnit.SECONDS)
        .otherwiseEmpty();
  }

  /** Source: hands the result's metadata to {@code onResult} once the channel ended. */
  static void receive(IncomingChannel channel, Handler<JsonObject> onResult, Handler<Throwable> onFailure) {
    JsonObject result = channel.metadata();
    channel.handler(ignored -> { });
    channel.exceptionHandler(onFailure);
    channel.endHandler(ignored -> onResult.handle(result));
  }
}
