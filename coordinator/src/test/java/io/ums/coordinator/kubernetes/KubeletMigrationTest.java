package io.ums.coordinator.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.ums.coordinator.Coordinator;
import io.ums.coordinator.cluster.MigrationKeys;
import io.ums.coordinator.testing.FakeAgent;
import io.ums.coordinator.testing.Http;
import io.ums.coordinator.testing.Http.Answer;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Orchestrator level (interface kubelet) against fabric8's mock API server in CRUD mode (the real
 * kubelet and containerd run under ./ums cluster, but no test drives this path through them yet). The node agents are {@link
 * FakeAgent}s speaking the kubelet part of agent-api.md; the test itself plays the destination
 * node's kubelet/CRI-O by writing the restored pod's status (Running and Ready, or not).
 */
@EnableKubernetesMockClient(crud = true)
class KubeletMigrationTest {
  /** Short, so the "never Ready" case ends quickly; the fake agents' phases take tens of ms. */
  private static final Duration PHASE_TIMEOUT = Duration.ofSeconds(2);

  KubernetesClient client;

  private KubeTestbed testbed;
  private FakeAgent nodeA;
  private FakeAgent nodeB;
  private Coordinator coordinator;

  @BeforeEach
  void start() {
    testbed = new KubeTestbed(client);
    nodeA = testbed.nodeA();
    nodeB = testbed.nodeB();
    coordinator = testbed.coordinator(PHASE_TIMEOUT);
  }

  @AfterEach
  void stop() {
    testbed.close();
  }

  /** A pod the agent does not run itself (no agent workload): only its kubelet can checkpoint it. */
  private void sourcePod(String... containers) {
    PodBuilder pod = new PodBuilder()
        .withNewMetadata().withName("api").withNamespace("default").withLabels(Map.of("app", "api")).endMetadata()
        .withNewSpec().withNodeName("node-a").endSpec()
        .withNewStatus().withPhase("Running").withPodIP("10.0.0.5").endStatus();
    for (String container : containers) {
      pod.editSpec().addNewContainer().withName(container).withImage("registry.local/" + container + ":3")
          .withImagePullPolicy("Always").endContainer().endSpec();
    }
    client.pods().inNamespace("default").resource(pod.build()).create();
  }

  private JsonObject request() {
    return new JsonObject().put("name", "api").put("destinationUrl", coordinator.url()).put("interface", "kubelet");
  }

  private CompletableFuture<Answer> migrate(JsonObject body) {
    return CompletableFuture.supplyAsync(() -> Http.post(coordinator.url() + "/migrate", body));
  }

  private List<Pod> destinationPods() {
    return client.pods().inNamespace("default").list().getItems().stream()
        .filter(p -> p.getMetadata().getName().startsWith("api-m")).toList();
  }

  /** The restored pod as soon as the coordinator created it. */
  private Pod awaitDestinationPod() {
    await().atMost(Duration.ofSeconds(10)).until(() -> destinationPods().size() == 1);
    return destinationPods().get(0);
  }

  private List<String> eventReasons() {
    return client.v1().events().inNamespace("default").list().getItems().stream().map(Event::getReason).toList();
  }

  private void assertSourceRunsUnlocked() {
    Pod source = MockCluster.get(client, "default", "api");
    assertThat(source).as("the kubelet left the source running; it stays").isNotNull();
    assertThat(KubernetesCluster.annotations(source))
        .doesNotContainKeys(MigrationKeys.ANNOTATION_MIGRATION_ID, MigrationKeys.ANNOTATION_MIGRATION_STEP);
  }

  @Test
  void thePodIsCreatedFromTheCheckpointImagePinnedToTheNodeOnceReadyTheSourceIsDeleted() throws Exception {
    sourcePod("app");
    CompletableFuture<Answer> answer = migrate(request());

    Pod restored = awaitDestinationPod();
    Container app = restored.getSpec().getContainers().get(0);
    assertThat(app.getImage()).as("only known once the destination agent built it")
        .isEqualTo(FakeAgent.checkpointImage("api", "app"));
    assertThat(app.getImagePullPolicy()).isEqualTo("Never");
    assertThat(restored.getSpec().getNodeName()).isEqualTo("node-b");
    assertThat(nodeA.kubeletCheckpoints()).containsExactly("default/api/app");
    assertThat(answer).as("answers only once the pod is Ready").isNotDone();
    assertThat(nodeB.retiredImages()).as("the checkpoint image serves the pod's start").isEmpty();
    MockCluster.kubeletReportsReady(client, "default", restored.getMetadata().getName());

    Answer done = answer.get();
    assertThat(done.status()).as(done.body()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(nodeB.retiredImages())
        .as("once the pod is Ready its checkpoint image is retired on its node")
        .containsExactly(FakeAgent.checkpointImage("api", "app")));
    assertThat(nodeA.retiredImages()).isEmpty();
    assertThat(nodeB.discardedImages()).isEmpty();
    assertThat(done.json().getString("interface")).isEqualTo("kubelet-copy");
    assertThat(done.json().getJsonObject("destination").getString("pod")).isEqualTo(restored.getMetadata().getName());
    assertThat(done.json().getJsonObject("destination").getJsonArray("containers")).hasSize(1);
    assertThat(MockCluster.get(client, "default", "api")).as("source deleted").isNull();
    assertThat(eventReasons()).contains("MigrationStarted", "Migrated");
    Pod settled = MockCluster.get(client, "default", restored.getMetadata().getName());
    assertThat(settled.getMetadata().getLabels()).doesNotContainKey(MigrationKeys.LABEL_DESTINATION_OF);
    assertThat(KubernetesCluster.annotations(settled)).doesNotContainKey(MigrationKeys.ANNOTATION_DESTINATION_STEP);
  }

  @Test
  void keepLeavesTheSourceRunningAndUnlocked() throws Exception {
    sourcePod("app");
    CompletableFuture<Answer> answer = migrate(request().put("keep", true));

    MockCluster.kubeletReportsReady(client, "default", awaitDestinationPod().getMetadata().getName());

    assertThat(answer.get().status()).as(answer.get().body()).isEqualTo(200);
    assertSourceRunsUnlocked();
    assertThat(destinationPods()).hasSize(1);
  }

  @Test
  void aRestoredPodThatNeverGetsReadyIsRemovedAndTheMigrationIs504() throws Exception {
    sourcePod("app");
    CompletableFuture<Answer> answer = migrate(request());
    awaitDestinationPod(); // and nobody reports it Ready

    Answer timedOut = answer.get();
    assertThat(timedOut.status()).as(timedOut.body()).isEqualTo(504);
    assertThat(timedOut.json().getString("message")).contains("not Running and Ready within");
    assertThat(destinationPods()).as("destination pod removed").isEmpty();
    assertSourceRunsUnlocked();
    assertThat(eventReasons()).contains("MigrationRolledBack");
    assertThat(nodeB.discardedImages()).as("and its image").containsExactly(FakeAgent.checkpointImage("api", "app"));
    assertThat(nodeB.retiredImages()).isEmpty();
  }

  @Test
  void aPodThatCannotStartFailsAt502WithTheKubeletsReason() throws Exception {
    sourcePod("app");
    CompletableFuture<Answer> answer = migrate(request());
    MockCluster.kubeletReportsImageMissing(client, "default", awaitDestinationPod().getMetadata().getName(), "app");

    Answer failed = answer.get();
    assertThat(failed.status()).as(failed.body()).isEqualTo(502);
    assertThat(failed.json().getString("message")).contains("ErrImageNeverPull");
    assertThat(destinationPods()).isEmpty();
    assertThat(nodeB.retiredImages()).as("no pod runs from it").isEmpty();
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(nodeB.discardedImages())
        .as("the release removes the image the pod could not start from")
        .containsExactly(FakeAgent.checkpointImage("api", "app")));
    assertSourceRunsUnlocked();
  }

  @Test
  void anAgentFailureRollsBackBeforeAnyPodExists() {
    sourcePod("app");
    nodeA.script(FakeAgent.Script.ROLL_BACK);

    Answer answer = Http.post(coordinator.url() + "/migrate", request());

    assertThat(answer.status()).as(answer.body()).isEqualTo(502);
    assertThat(answer.json().getString("message")).contains("container app", "kubelet answered 404");
    assertThat(destinationPods()).isEmpty();
    assertSourceRunsUnlocked();
    assertThat(nodeB.abortedIds()).hasSize(1);
  }

  @Test
  void everyContainerIsCheckpointedAndTheRestoredPodUsesEachImage() throws Exception {
    sourcePod("app", "sidecar");
    CompletableFuture<Answer> answer = migrate(request());

    Pod restored = awaitDestinationPod();
    assertThat(nodeA.kubeletCheckpoints()).containsExactly("default/api/app", "default/api/sidecar");
    assertThat(restored.getSpec().getContainers()).extracting(Container::getImage)
        .containsExactly(FakeAgent.checkpointImage("api", "app"), FakeAgent.checkpointImage("api", "sidecar"));
    assertThat(nodeB.sessions().values()).extracting(s -> s.getString("workloadName"))
        .containsExactlyInAnyOrder("default/api/app", "default/api/sidecar");
    MockCluster.kubeletReportsReady(client, "default", restored.getMetadata().getName());
    assertThat(answer.get().status()).as(answer.get().body()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(nodeB.retiredImages())
        .containsExactlyInAnyOrder(FakeAgent.checkpointImage("api", "app"), FakeAgent.checkpointImage("api", "sidecar")));

    List<JsonObject> events = Http.events(coordinator.url() + "/migrations/"
        + answer.get().json().getString("migrationId") + "/events");
    assertThat(events).extracting(e -> e.getString("type")).startsWith("RESERVED").endsWith("DONE");
    assertThat(events).filteredOn(e -> "CHECKPOINTING".equals(e.getString("type")) && !e.getBoolean("passed", false))
        .extracting(e -> e.getString("container")).containsExactly("app", "sidecar");
  }

  @Test
  void aFailingSecondContainerAbortsBothSessions() {
    sourcePod("app", "sidecar");
    nodeA.kubeletFailsFor("sidecar");

    Answer answer = Http.post(coordinator.url() + "/migrate", request());

    assertThat(answer.status()).as(answer.body()).isEqualTo(502);
    assertThat(answer.json().getString("message")).contains("container sidecar");
    assertThat(nodeB.abortedIds()).hasSize(2);
    assertThat(destinationPods()).isEmpty();
    assertSourceRunsUnlocked();
    assertThat(nodeB.discardedImages()).as("app's session had imported its image: no pod will start from it")
        .containsExactly(FakeAgent.checkpointImage("api", "app"));
  }

  @Test
  void aDestinationCoordinatorOfAnotherClusterCreatesThePodOnCommit() throws Exception {
    sourcePod("app");
    Coordinator other = testbed.coordinator(PHASE_TIMEOUT); // another cluster id: the cross-cluster code path
    CompletableFuture<Answer> answer =
        migrate(request().put("destinationUrl", other.url()).put("destinationNode", "node-b"));
    MockCluster.kubeletReportsReady(client, "default", awaitDestinationPod().getMetadata().getName());

    Answer done = answer.get();
    assertThat(done.status()).as(done.body()).isEqualTo(200);
    assertThat(done.json().getJsonObject("destination").getString("clusterId")).isEqualTo(other.clusterId());
    assertThat(MockCluster.get(client, "default", "api")).isNull();
    assertThat(destinationPods()).singleElement().satisfies(pod ->
        assertThat(pod.getMetadata().getLabels()).doesNotContainKey(MigrationKeys.LABEL_DESTINATION_OF));
  }

  @Test
  void aPodTheAgentDoesNotRunDefaultsToKubeletAndAnAgentWithoutAKubeletIs409() {
    sourcePod("app");
    nodeA.kubeletConfigured(false);
    JsonObject noInterface = request();
    noInterface.remove("interface");

    Answer answer = Http.post(coordinator.url() + "/migrate", noInterface);

    assertThat(answer.status()).as(answer.body()).isEqualTo(409);
    assertThat(answer.json().getString("message")).contains("--kubelet-url");
    assertSourceRunsUnlocked();
  }

  @Test
  void aMultiContainerPodIsRefusedByTheConsistentWayWithWhy() {
    sourcePod("app", "sidecar");
    JsonObject noInterface = request();
    noInterface.remove("interface");

    Answer answer = Http.post(coordinator.url() + "/migrate", noInterface);

    assertThat(answer.status()).as(answer.body()).isEqualTo(409);
    assertThat(answer.json().getString("message")).contains("kubelet-consistent moves single-container pods")
        .contains("[app, sidecar]").contains("kubelet-copy");
    assertThat(nodeA.kubeletCheckpoints()).as("nothing checkpointed, nothing stopped").isEmpty();
    assertSourceRunsUnlocked();
  }
}
