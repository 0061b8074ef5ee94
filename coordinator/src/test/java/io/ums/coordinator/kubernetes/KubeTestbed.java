package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.ums.coordinator.Coordinator;
import io.ums.coordinator.cluster.Cluster;
import io.ums.coordinator.migration.MigrationSettings;
import io.ums.coordinator.testing.FakeAgent;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Two nodes, node-a and node-b, whose agents are {@link FakeAgent}s behind agent pods in fabric8's
 * mock API server, and the coordinators a test starts on them (each its own cluster id, so a
 * second one is "another cluster" on the same API server). Everything closes with the testbed.
 */
final class KubeTestbed implements AutoCloseable {
  /** Fast status polling: the fake agents' phases take tens of milliseconds. */
  private static final Duration POLL = Duration.ofMillis(10);

  final Vertx vertx = Vertx.vertx();
  private final KubernetesClient client;
  private final List<Coordinator> coordinators = new ArrayList<>();
  private FakeAgent nodeA;
  private final FakeAgent nodeB;
  private KubernetesCluster lastCluster;

  KubeTestbed(KubernetesClient client) {
    this.client = client;
    nodeA = FakeAgent.start(vertx, "node-a");
    nodeB = FakeAgent.start(vertx, "node-b");
    MockCluster.agentPod(client, "ums-agent-a", "node-a", nodeA);
    MockCluster.agentPod(client, "ums-agent-b", "node-b", nodeB);
  }

  FakeAgent nodeA() {
    return nodeA;
  }

  FakeAgent nodeB() {
    return nodeB;
  }

  /** A coordinator in Kubernetes mode on the mock API server, started (recovery included). */
  Coordinator coordinator(Duration phaseTimeout) {
    return coordinator(phaseTimeout, cluster -> cluster);
  }

  /** The same, its cluster seen through {@code wrap} (a test's way to make one step fail). */
  Coordinator coordinator(Duration phaseTimeout, UnaryOperator<Cluster> wrap) {
    Coordinator started = Coordinator.start(vertx, "127.0.0.1", 0, http -> {
      lastCluster = new KubernetesCluster(vertx, client, MockCluster.AGENTS, http);
      return wrap.apply(lastCluster);
    }, new MigrationSettings(POLL, phaseTimeout)).await();
    coordinators.add(started);
    return started;
  }

  /** The cluster of the coordinator started last. */
  KubernetesCluster cluster() {
    return lastCluster;
  }

  /** node-a's agent restarted: a new agent (it migrates nothing) behind a new agent pod. */
  FakeAgent restartNodeA() {
    nodeA.close();
    nodeA = FakeAgent.start(vertx, "node-a");
    client.pods().inNamespace(MockCluster.AGENTS).withName("ums-agent-a").delete();
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
        .until(() -> client.pods().inNamespace(MockCluster.AGENTS).withName("ums-agent-a").get() == null);
    MockCluster.agentPod(client, "ums-agent-a", "node-a", nodeA);
    return nodeA;
  }

  @Override
  public void close() {
    for (int i = coordinators.size() - 1; i >= 0; i--) {
      coordinators.get(i).close().await();
    }
    nodeA.close();
    nodeB.close();
    vertx.close().await();
  }
}
