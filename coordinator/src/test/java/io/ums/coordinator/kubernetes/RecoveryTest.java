package io.ums.coordinator.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A coordinator that stopped mid-migration (its state was in memory) left locks and destination
 * pods behind; the next one settles them when it starts. Against fabric8's mock API server in
 * CRUD mode (fast, many cases; ApiServerMigrationTest runs the real API server); the pods are written as the stopped coordinator left
 * them, the agents are {@link FakeAgent}s.
 */
@EnableKubernetesMockClient(crud = true)
class RecoveryTest {
  private static final String DEAD = "0b5e1c2d-dead-4c00-8000-000000000001";
  private static final Duration PHASE_TIMEOUT = Duration.ofMillis(500);

  KubernetesClient client;

  private KubeTestbed testbed;
  private FakeAgent nodeA;
  private Coordinator coordinator;

  @BeforeEach
  void agents() {
    testbed = new KubeTestbed(client);
    nodeA = testbed.nodeA();
  }

  @AfterEach
  void stop() {
    testbed.close();
  }

  /** The coordinator that stopped left the pods as they are; a new one starts on them. */
  private void restartCoordinator() {
    coordinator = testbed.coordinator(PHASE_TIMEOUT);
  }

  /** The source pod "web" on node-a, locked by the dead coordinator's migration with this interface. */
  private Pod lockedSource(String approach, boolean ownedByReplicaSet) {
    Map<String, String> annotations = new HashMap<>();
    if (approach != null) {
      annotations.put(MigrationKeys.ANNOTATION_MIGRATION_ID, DEAD);
      annotations.put(MigrationKeys.ANNOTATION_MIGRATION_STEP, "TRANSFERRING");
      annotations.put(MigrationKeys.ANNOTATION_MIGRATION_INTERFACE, approach);
    }
    PodBuilder pod = new PodBuilder()
        .withNewMetadata().withName("web").withNamespace("default")
          .withLabels(Map.of("app", "web", "tier", "front")).withAnnotations(annotations).endMetadata()
        .withNewSpec().withNodeName("node-a").addNewContainer().withName("web").withImage("web:1").endContainer()
        .endSpec()
        .withNewStatus().withPhase("Running").endStatus();
    if (ownedByReplicaSet) {
      pod.editMetadata().withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("apps/v1")
          .withKind("ReplicaSet").withName("web-rs").withUid("rs-uid").withController(true).build()).endMetadata();
    }
    return client.pods().inNamespace("default").resource(pod.build()).create();
  }

  /** The destination pod the dead coordinator had created for it, at this step. */
  private String destinationLeftBehind(Pod source, String step, boolean ownedByReplicaSet) {
    PodOwner.Withholding withholding = ownedByReplicaSet
        ? PodOwner.split(new LabelSelectorBuilder().withMatchLabels(Map.of("app", "web")).build(),
            source.getMetadata().getLabels(), "web")
        : PodOwner.Withholding.NONE;
    String name = DestinationPods.name("web", DEAD);
    Pod pod = DestinationPods.destination(DestinationPods.template(source, withholding), name, "node-b", DEAD);
    pod.getMetadata().getAnnotations().put(MigrationKeys.ANNOTATION_DESTINATION_STEP, step);
    client.pods().inNamespace("default").resource(pod).create();
    return name;
  }

  /** The pod a dead coordinator's kubelet migration restored on node-b from a checkpoint image, at this step. */
  private String restoredLeftBehind(Pod source, String step) {
    String name = DestinationPods.name("web", DEAD);
    Pod pod = DestinationPods.restored(DestinationPods.template(source, PodOwner.Withholding.NONE), name, "node-b",
        DEAD, Map.of("web", FakeAgent.checkpointImage("web", "web")));
    pod.getMetadata().getAnnotations().put(MigrationKeys.ANNOTATION_DESTINATION_STEP, step);
    client.pods().inNamespace("default").resource(pod).create();
    return name;
  }

  private Pod pod(String name) {
    return MockCluster.get(client, "default", name);
  }

  private List<String> eventReasons() {
    return client.v1().events().inNamespace("default").list().getItems().stream().map(Event::getReason).toList();
  }

  private void assertUnlocked(Pod pod) {
    assertThat(KubernetesCluster.annotations(pod)).doesNotContainKeys(MigrationKeys.ANNOTATION_MIGRATION_ID,
        MigrationKeys.ANNOTATION_MIGRATION_STEP, MigrationKeys.ANNOTATION_MIGRATION_INTERFACE);
  }

  private static void assertSettled(Pod destination) {
    assertThat(destination.getMetadata().getLabels()).doesNotContainKey(MigrationKeys.LABEL_DESTINATION_OF);
    assertThat(KubernetesCluster.annotations(destination))
        .doesNotContainKeys(MigrationKeys.ANNOTATION_DESTINATION_STEP, PodOwner.SOURCE_OWNERS);
  }

  @Test
  void aMigrationTheAgentsRolledBackIsRolledBackTheDestinationPodRemovedTheSourceUnlocked() {
    nodeA.addWorkload("web"); // the source agent resumed it
    String destination = destinationLeftBehind(lockedSource("ff", false), MigrationKeys.STEP_RESERVED, false);

    restartCoordinator();

    assertThat(pod(destination)).as("never got the workload: removed").isNull();
    assertUnlocked(pod("web"));
    assertThat(eventReasons()).contains("MigrationRolledBack");
    Answer again = Http.post(coordinator.url() + "/migrate",
        new JsonObject().put("name", "web").put("destinationUrl", coordinator.url()));
    assertThat(again.status()).as(again.body()).isEqualTo(200);
  }

  @Test
  void aKubeletMigrationIsAlwaysRolledBackTheKubeletNeverStoppedTheSource() {
    String destination = destinationLeftBehind(lockedSource("kubelet", false), MigrationKeys.STEP_RESERVED, false);

    restartCoordinator();

    assertThat(pod(destination)).isNull();
    assertUnlocked(pod("web"));
  }

  @Test
  void aRestoredPodNeverCommittedIsRemovedAndItsCheckpointImageDiscardedOnItsNode() {
    FakeAgent nodeB = testbed.nodeB();
    String destination = restoredLeftBehind(lockedSource("kubelet-consistent", false), MigrationKeys.STEP_RESERVED);

    restartCoordinator();

    assertThat(pod(destination)).isNull();
    assertUnlocked(pod("web"));
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(nodeB.discardedImages())
        .containsExactly(FakeAgent.checkpointImage("web", "web")));
    assertThat(nodeB.retiredImages()).isEmpty();
    assertThat(nodeA.discardedImages()).isEmpty();
  }

  @Test
  void aCommittedRestoredPodKeepsRunningAndItsCheckpointImageIsRetiredOnItsNode() {
    FakeAgent nodeB = testbed.nodeB();
    String destination = restoredLeftBehind(lockedSource("kubelet-consistent", false), MigrationKeys.STEP_COMMITTED);

    restartCoordinator();

    assertThat(pod("web")).as("source deleted").isNull();
    assertSettled(pod(destination));
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(nodeB.retiredImages())
        .containsExactly(FakeAgent.checkpointImage("web", "web")));
    assertThat(nodeB.discardedImages()).isEmpty();
  }

  @Test
  void whileTheAgentsStillMoveItNothingIsTouchedThenTheFinishedMigrationIsCompleted() {
    nodeA.addWorkload("web");
    nodeA.markMigrating("web");
    String destination = destinationLeftBehind(lockedSource("ff", false), MigrationKeys.STEP_RESERVED, false);

    restartCoordinator();
    assertThat(pod(destination)).as("the agents may still restore into it").isNotNull();
    assertThat(KubernetesCluster.annotations(pod("web"))).containsEntry(MigrationKeys.ANNOTATION_MIGRATION_ID, DEAD);

    nodeA.removeWorkload("web"); // the agents finished: the workload left the source node
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      assertThat(pod("web")).as("source deleted").isNull();
      assertSettled(pod(destination)); // after the source went
      assertThat(eventReasons()).contains("MigrationRecovered");
    });
  }

  @Test
  void aCommittedDestinationTakesTheSourcesPlaceWithItsOwner() {
    nodeA.addWorkload("web");
    String destination = destinationLeftBehind(lockedSource("ff", true), MigrationKeys.STEP_COMMITTED, true);

    restartCoordinator();

    assertThat(pod("web")).as("source deleted").isNull();
    Pod adopted = pod(destination);
    assertSettled(adopted);
    assertThat(adopted.getMetadata().getLabels()).containsEntry("app", "web").containsEntry("tier", "front");
    assertThat(adopted.getMetadata().getOwnerReferences()).singleElement()
        .satisfies(owner -> assertThat(owner.getName()).isEqualTo("web-rs"));
  }

  @Test
  void aCommittedDestinationWhoseSourceIsAlreadyGoneGetsTheRecordedOwner() {
    String destination = destinationLeftBehind(lockedSource("ff", true), MigrationKeys.STEP_COMMITTED, true);
    client.pods().inNamespace("default").withName("web").delete();
    await().atMost(Duration.ofSeconds(5)).until(() -> pod("web") == null);

    restartCoordinator();

    Pod adopted = pod(destination);
    assertSettled(adopted);
    assertThat(adopted.getMetadata().getLabels()).containsEntry("app", "web");
    assertThat(adopted.getMetadata().getOwnerReferences()).singleElement()
        .satisfies(owner -> assertThat(owner.getUid()).isEqualTo("rs-uid"));
  }

  @Test
  void aReservedDestinationWithoutALockedSourceIsRemoved() {
    nodeA.addWorkload("web");
    String destination = destinationLeftBehind(lockedSource(null, false), MigrationKeys.STEP_RESERVED, false);

    restartCoordinator();

    assertThat(pod(destination)).isNull();
    assertThat(pod("web")).isNotNull();
  }
}
