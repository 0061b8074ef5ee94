package io.ums.coordinator;

import io.ums.coordinator.api.CoordinatorRouter;
import io.ums.coordinator.cluster.Cluster;
import io.ums.coordinator.migration.ClusterDescriber;
import io.ums.coordinator.migration.MigrationService;
import io.ums.coordinator.migration.MigrationSettings;
import io.ums.coordinator.migration.ReservationService;
import io.ums.coordinator.peer.DestinationPolicy;
import io.ums.coordinator.peer.PeerClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.time.Duration;
import java.util.UUID;
import java.util.function.Function;

/**
 * A running coordinator: one cluster, its migration services and the HTTP API on one port.
 * Built by {@link CoordinatorMain} and by tests (port 0).
 */
public final class Coordinator {
  /** Single peer requests (not whole phases) time out after this. */
  public static final Duration PEER_REQUEST_TIMEOUT = Duration.ofSeconds(30);

  private final Vertx vertx;
  private final WebClient webClient;
  private final HttpServer server;
  private final String clusterId;
  private final Cluster cluster;
  private final String scheme;

  private Coordinator(Vertx vertx, WebClient webClient, HttpServer server, String clusterId, Cluster cluster,
                      String scheme) {
    this.vertx = vertx;
    this.webClient = webClient;
    this.server = server;
    this.clusterId = clusterId;
    this.cluster = cluster;
    this.scheme = scheme;
  }

  /**
   * Starts a coordinator. The cluster is built from the shared HTTP client (local mode needs it to
   * reach the agents).
   */
  public static Future<Coordinator> start(
      Vertx vertx, String host, int port, Function<PeerClient, Cluster> clusterFactory, MigrationSettings settings) {
    return start(vertx, host, port, clusterFactory, settings, CoordinatorSecurity.none());
  }

  /** As above, with tokens and TLS (files already read: nothing here blocks). */
  public static Future<Coordinator> start(Vertx vertx, String host, int port,
      Function<PeerClient, Cluster> clusterFactory, MigrationSettings settings, CoordinatorSecurity security) {
    WebClient webClient = WebClient.create(vertx,
        security.outgoing().trust().applyTo(new WebClientOptions().setKeepAlive(true)));
    PeerClient http = new PeerClient(webClient, PEER_REQUEST_TIMEOUT, security.outgoing());
    Cluster cluster = clusterFactory.apply(http);
    String clusterId = UUID.randomUUID().toString();
    ClusterDescriber describer = new ClusterDescriber(clusterId, cluster, http);
    DestinationPolicy destinations = security.outgoing().destinations();
    if (port > 0) {
      destinations.listeningOn(security.scheme(), host, port);
    }
    MigrationService migrations = new MigrationService(vertx, cluster, describer, http, settings, destinations);
    ReservationService reservations = new ReservationService(vertx, cluster, describer, settings);
    Router router =
        new CoordinatorRouter(migrations, reservations, describer, cluster, security.access()).create(vertx);
    // both sides' migrations are ours: a lock or destination pod of either is not left over
    cluster.activeMigrations(id -> migrations.running(id) || reservations.holds(id));
    return cluster
        .recover(settings.phaseTimeout())
        .compose(recovered -> vertx
            .createHttpServer(security.serverOptions())
            .requestHandler(router)
            .listen(port, host))
        .onSuccess(server -> destinations.listeningOn(security.scheme(), host, server.actualPort()))
        .map(server -> new Coordinator(vertx, webClient, server, clusterId, cluster, security.scheme()));
  }

  public int port() {
    return server.actualPort();
  }

  public String url() {
    return scheme + "://127.0.0.1:" + port();
  }

  public String clusterId() {
    return clusterId;
  }

  public Future<Void> close() {
    webClient.close();
    return server.close().eventually(cluster::close);
  }

  Vertx vertx() {
    return vertx;
  }
}
