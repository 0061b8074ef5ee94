package io.ums.agent.dataplane;

import io.ums.protocol.SessionAuthenticator;
import io.ums.protocol.UmsClient;
import io.ums.protocol.UmsClientOptions;
import io.ums.protocol.UmsConnection;
import io.ums.protocol.UmsServer;
import io.ums.protocol.UmsServerOptions;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import java.time.Duration;

/**
 * The agent's side of the UMS protocol: the data server peers connect to (authenticated with one-time
 * session tokens) and the client this agent connects to peers with. Short idle timeouts with frequent
 * pings: a cut link must fail a migration within seconds, since the source stays frozen meanwhile. The
 * server accepts plain and TLS 1.3 connections alike (PROTOCOL.md 2.4): whether pages are encrypted is
 * the sending side's choice, made by the coordinator in the send request.
 */
public final class DataPlane {
  public record Limits(Duration idleTimeout, Duration pingInterval) {}

  private final UmsServer server;
  private final int port;

  private DataPlane(UmsServer server, int port) {
    this.server = server;
    this.port = port;
  }

  public static Future<DataPlane> start(Vertx vertx, String host, int port, Limits limits,
                                        SessionAuthenticator authenticator, Handler<UmsConnection> sessions) {
    // TLS on: its key and certificate are made when the first encrypted migration comes (prepareTls)
    UmsServer server = UmsServer.create(vertx, new UmsServerOptions().setTls(true)
        .setIdleTimeout(limits.idleTimeout()).setPingInterval(limits.pingInterval()));
    server.authenticator(authenticator).connectHandler(sessions);
    return server.listen(port, host).map(actual -> new DataPlane(server, actual));
  }

  public static UmsClient client(Vertx vertx, Limits limits) {
    return UmsClient.create(vertx, new UmsClientOptions()
        .setIdleTimeout(limits.idleTimeout()).setPingInterval(limits.pingInterval())
        .setConnectTimeout(Duration.ofSeconds(5)));
  }

  /** Makes the TLS identity ahead of an encrypted migration's connection (it is made on demand otherwise). */
  public Future<Void> prepareTls() {
    return server.prepareTls();
  }

  public int port() {
    return port;
  }

  public Future<Void> close() {
    return server.close();
  }
}
