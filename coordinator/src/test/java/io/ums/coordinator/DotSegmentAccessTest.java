package io.ums.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.coordinator.api.ApiAccess;
import io.ums.coordinator.cluster.AgentRef;
import io.ums.coordinator.cluster.LocalCluster;
import io.ums.coordinator.migration.MigrationSettings;
import io.ums.coordinator.peer.PeerCredentials;
import io.ums.coordinator.testing.FakeAgent;
import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ClientTls;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Paths that are not normalized ({@code /frontman/../migrate}, as {@code curl --path-as-is} sends them) must
 * need the token of the route they reach. Sent over a raw socket: HTTP clients normalize paths themselves.
 * The agent is a {@link FakeAgent} (a workload named "memsvc"), the coordinator real, with all tokens on.
 */
class DotSegmentAccessTest {
  private static final BearerToken PEER = BearerToken.random();
  private static final BearerToken API = BearerToken.random();

  private Vertx vertx;
  private FakeAgent nodeA;
  private FakeAgent nodeB;
  private Coordinator coordinator;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    nodeA = FakeAgent.start(vertx, "node-a");
    nodeB = FakeAgent.start(vertx, "node-b");
    nodeA.addWorkload("memsvc");
    List<AgentRef> refs = List.of(new AgentRef("node-a", nodeA.url()), new AgentRef("node-b", nodeB.url()));
    CoordinatorSecurity security = new CoordinatorSecurity(new ApiAccess(Optional.of(API), Optional.of(PEER)),
        Optional.empty(), new PeerCredentials(Optional.empty(), Optional.of(PEER), ClientTls.jvmDefault(), false));
    coordinator = Coordinator.start(vertx, "127.0.0.1", 0, http -> new LocalCluster(refs, http),
        MigrationSettings.defaults(), security).await();
  }

  @AfterEach
  void stop() {
    coordinator.close().await();
    nodeA.close();
    nodeB.close();
    vertx.close().await();
  }

  @ParameterizedTest
  @ValueSource(strings = {"/frontman/../list", "/frontman/../migrations", "/frontman/x/../../list",
      "/healthcheck/../list", "/frontman/%2e%2e/list", "/frontman/./../migrations", "//list"})
  void userRoutesReachedThroughAnOpenPrefixStillNeedTheApiToken(String path) throws IOException {
    assertThat(statusOf("GET " + path, null, "")).as("GET " + path).isEqualTo(401);
  }

  @Test
  void aMigrationThroughAnOpenPrefixNeedsTheApiToken() throws IOException {
    String body = "{\"name\":\"memsvc\",\"destinationUrl\":\"" + coordinator.url() + "\"}";

    assertThat(statusOf("POST /frontman/../migrate", null, body)).isEqualTo(401);
    assertThat(statusOf("POST /frontman/../migrations", null, body)).isEqualTo(401);
    assertThat(nodeA.workloadNames()).as("nothing moved").containsExactly("memsvc");
  }

  @Test
  void reservationsThroughAnOpenPrefixNeedThePeerToken() throws IOException {
    String body = "{\"migrationId\":\"m\",\"workload\":{\"name\":\"memsvc\",\"kind\":\"process\"}}";

    assertThat(statusOf("POST /frontman/../v1/reservations", null, body)).isEqualTo(401);
    assertThat(statusOf("POST /frontman/../v1/reservations", API, body)).isEqualTo(401);
  }

  @Test
  void thePeerTokenDoesNotOpenUserRoutesThroughTheReservationsPrefix() throws IOException {
    assertThat(statusOf("GET /v1/reservations/../../list", PEER, "")).isEqualTo(401);
    assertThat(statusOf("GET /v1/reservations/../../list", API, "")).isEqualTo(200);
  }

  @Test
  void openRoutesStayOpenAndTheTokensStillWork() throws IOException {
    assertThat(statusOf("GET /healthcheck", null, "")).isEqualTo(200);
    assertThat(statusOf("GET /list/../healthcheck", null, "")).isEqualTo(200);
    assertThat(statusOf("GET /list", API, "")).isEqualTo(200);
    assertThat(statusOf("GET /", PEER, "")).isEqualTo(200);
    assertThat(statusOf("GET /", null, "")).isEqualTo(401);
  }

  /** One request over a fresh socket, its path exactly as given; answers the status code. */
  private int statusOf(String requestLine, BearerToken token, String body) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", coordinator.port())) {
      socket.setSoTimeout(30_000);
      byte[] content = body.getBytes(StandardCharsets.UTF_8);
      String head = requestLine + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
          + (token == null ? "" : "Authorization: " + token.authorization() + "\r\n")
          + (content.length == 0 ? "" : "Content-Type: application/json\r\n")
          + "Content-Length: " + content.length + "\r\n\r\n";
      OutputStream out = socket.getOutputStream();
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      out.write(content);
      out.flush();
      InputStream in = socket.getInputStream();
      StringBuilder statusLine = new StringBuilder();
      for (int b = in.read(); b != -1 && b != '\n'; b = in.read()) {
        statusLine.append((char) b);
      }
      String[] parts = statusLine.toString().split(" ");
      assertThat(parts.length).as("status line: " + statusLine).isGreaterThanOrEqualTo(2);
      return Integer.parseInt(parts[1]);
    }
  }
}
