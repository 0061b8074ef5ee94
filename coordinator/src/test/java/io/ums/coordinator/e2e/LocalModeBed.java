package io.ums.coordinator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.coordinator.Coordinator;
import io.ums.coordinator.CoordinatorSecurity;
import io.ums.coordinator.api.ApiAccess;
import io.ums.coordinator.cluster.AgentRef;
import io.ums.coordinator.cluster.LocalCluster;
import io.ums.coordinator.migration.MigrationSettings;
import io.ums.coordinator.peer.PeerCredentials;
import io.ums.coordinator.testing.Http.Answer;
import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ClientTls;
import io.ums.testkit.MemService;
import io.ums.testkit.MemServiceClient;
import io.ums.testkit.NetworkTestbed;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * What the local-mode end-to-end tests stand on: a two-node {@link NetworkTestbed} (network namespaces named
 * by the test's prefix), a real agent JVM in each ({@link AgentNode}, as the test configures it), and a
 * coordinator in local mode over them in the root namespace. {@link #close()} takes all of it down, workloads
 * first, even after a failed start.
 */
final class LocalModeBed implements AutoCloseable {
  private final Path dir;
  private final List<AgentNode> agents = new ArrayList<>();
  private final List<Long> workloadPids = new ArrayList<>();
  private NetworkTestbed network;
  private Vertx vertx;
  private Coordinator coordinator;

  private LocalModeBed(Path dir) {
    this.dir = dir;
  }

  /**
   * Starts the bed. {@code agentFor} makes the (unstarted) agent of a node: its token, TLS, grace period;
   * the agent's work dir is {@code dir/<node name>}.
   */
  static LocalModeBed start(String prefix, Path dir, Function<NetworkTestbed.Node, AgentNode> agentFor,
      MigrationSettings settings, CoordinatorSecurity security) throws Exception {
    LocalModeBed bed = new LocalModeBed(dir);
    try {
      NetworkTestbed.removeStale(prefix);
      bed.network = NetworkTestbed.create(prefix, 2);
      for (NetworkTestbed.Node node : bed.network.nodes()) {
        bed.agents.add(agentFor.apply(node).start());
      }
      bed.vertx = Vertx.vertx();
      List<AgentRef> refs = bed.agents.stream().map(a -> new AgentRef(a.node.name(), a.url())).toList();
      bed.coordinator = Coordinator.start(bed.vertx, "127.0.0.1", 0, http -> new LocalCluster(refs, http),
          settings, security).await();
      return bed;
    } catch (Exception | AssertionError e) {
      bed.close();
      throw e;
    }
  }

  /** One token as the coordinator's API, peer and agent token, no TLS: the plain tests' security. */
  static CoordinatorSecurity oneToken(BearerToken token) {
    return new CoordinatorSecurity(new ApiAccess(Optional.of(token), Optional.of(token)), Optional.empty(),
        new PeerCredentials(Optional.of(token), Optional.of(token), ClientTls.jvmDefault(), false));
  }

  NetworkTestbed network() {
    return network;
  }

  List<AgentNode> agents() {
    return agents;
  }

  Coordinator coordinator() {
    return coordinator;
  }

  /** The coordinator's Vert.x, for a test that starts more coordinators (closed with it). */
  Vertx vertx() {
    return vertx;
  }

  /** A pid the test launched outside the agents' record keeping, killed at {@link #close()}. */
  void launched(long pid) {
    workloadPids.add(pid);
  }

  /** Launches the C memory service on {@code agent} through its control API and waits until it answers. */
  MemServiceClient.Answer launchMemService(AgentNode agent, String name, int port, int mib) {
    Path binary = MemService.build(dir.resolve("bin"));
    Answer launched = agent.http().post(agent.url() + "/v1/workloads", new JsonObject().put("name", name)
        .put("command", new JsonArray().add(binary.toString()).add(Integer.toString(port)).add(Integer.toString(mib))));
    assertThat(launched.status()).as(launched.body()).isEqualTo(201);
    launched(launched.json().getLong("pid"));
    return await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(agent.node.address(), port, 5000), any -> true);
  }

  /** The names of the workloads {@code agent} lists. */
  static List<String> names(AgentNode agent) {
    return new JsonArray(agent.http().get(agent.url() + "/v1/workloads").body()).stream()
        .map(w -> ((JsonObject) w).getString("name")).toList();
  }

  @Override
  public void close() throws Exception {
    try {
      if (coordinator != null) {
        coordinator.close().await();
      }
      if (vertx != null) {
        vertx.close().await();
      }
    } finally {
      AgentNode.stopAll(agents, workloadPids, network);
    }
  }
}
