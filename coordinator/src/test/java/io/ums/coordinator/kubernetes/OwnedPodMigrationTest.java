package io.ums.coordinator.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.ums.coordinator.Coordinator;
import io.ums.coordinator.cluster.MigrationKeys;
import io.ums.coordinator.error.MigrationException;
import io.ums.coordinator.testing.FakeAgent;
import io.ums.coordinator.testing.Http;
import io.ums.coordinator.testing.Http.Answer;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Pods with a controller, against fabric8's mock API server in CRUD mode: the test checks what a
 * ReplicaSet controller would see, the labels against its selector and the ownerReferences, and the
 * order of the API calls. ApiServerMigrationTest runs the real ReplicaSet controller on the hand-over.
 */
@EnableKubernetesMockClient(crud = true)
class OwnedPodMigrationTest {
  private static final Map<String, String> SELECTOR = Map.of("app", "web", "pod-template-hash", "5d8f");
  private static final String POD = "web-5d8f-x2k9q";

  KubernetesClient client;
  KubernetesMockServer server;

  private KubeTestbed testbed;
  private FakeAgent nodeA;
  private FakeAgent nodeB;
  private Coordinator coordinator;
  private ReplicaSet replicaSet;

  @BeforeEach
  void start() {
    testbed = new KubeTestbed(client);
    nodeA = testbed.nodeA();
    nodeB = testbed.nodeB();
    nodeA.addWorkload(POD);
    replicaSet = client.apps().replicaSets().inNamespace("default").resource(new ReplicaSetBuilder()
        .withNewMetadata().withName("web-5d8f").withNamespace("default").withUid("rs-uid-1").endMetadata()
        .withNewSpec().withReplicas(1).withSelector(new LabelSelectorBuilder().withMatchLabels(SELECTOR).build())
          .withNewTemplate().withNewMetadata().withLabels(SELECTOR).endMetadata()
            .withNewSpec().addNewContainer().withName("web").withImage("web:1").endContainer().endSpec()
          .endTemplate()
        .endSpec().build()).create();
    MockCluster.service(client, "web", Map.of("app", "web"));
    coordinator = testbed.coordinator(Duration.ofSeconds(10));
  }

  @AfterEach
  void stop() {
    testbed.close();
  }

  private void ownedPod(String kind, String owner) {
    Map<String, String> labels = new java.util.HashMap<>(SELECTOR);
    labels.put("tier", "front");
    client.pods().inNamespace("default").resource(new PodBuilder()
        .withNewMetadata().withName(POD).withNamespace("default").withLabels(labels)
          .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("apps/v1").withKind(kind).withName(owner)
              .withUid("rs-uid-1").withController(true).withBlockOwnerDeletion(true).build())
        .endMetadata()
        .withNewSpec().withNodeName("node-a").addNewContainer().withName("web").withImage("web:1").endContainer()
        .endSpec()
        .withNewStatus().withPhase("Running").withPodIP("10.0.0.9").endStatus()
        .build()).create();
  }

  private JsonObject request() {
    return new JsonObject().put("name", POD).put("destinationUrl", coordinator.url());
  }

  private List<Pod> destinationPods() {
    return client.pods().inNamespace("default").list().getItems().stream()
        .filter(p -> p.getMetadata().getName().startsWith(POD + "-m")).toList();
  }

  private boolean selectedByTheReplicaSet(Pod pod) {
    return PodOwner.matches(replicaSet.getSpec().getSelector(), pod.getMetadata().getLabels());
  }

  @Test
  void whileMigratingTheDestinationIsOutOfTheSelectorThenTakesTheSourcesPlaceWithItsOwner() throws Exception {
    ownedPod("ReplicaSet", "web-5d8f");
    nodeA.script(FakeAgent.Script.WAIT_FOR_RELEASE);
    CompletableFuture<Answer> answer =
        CompletableFuture.supplyAsync(() -> Http.post(coordinator.url() + "/migrate", request()));
    await().atMost(Duration.ofSeconds(10)).until(() -> destinationPods().size() == 1);

    Pod migrating = destinationPods().get(0);
    String name = migrating.getMetadata().getName();
    assertThat(selectedByTheReplicaSet(migrating)).as("the ReplicaSet must not adopt it mid-migration").isFalse();
    assertThat(migrating.getMetadata().getOwnerReferences()).isNullOrEmpty();
    assertThat(migrating.getMetadata().getLabels()).containsEntry("tier", "front").doesNotContainKeys("app");
    assertThat(migrating.getMetadata().getAnnotations()).containsKey(PodOwner.WITHHELD_LABELS);
    while (server.takeRequest(10, TimeUnit.MILLISECONDS) != null) {
      // what happened so far is not the hand-over
    }
    nodeA.release();
    assertThat(answer.get().status()).as(answer.get().body()).isEqualTo(200);

    Pod adopted = MockCluster.get(client, "default", name);
    assertThat(MockCluster.get(client, "default", POD)).as("source deleted").isNull();
    assertThat(selectedByTheReplicaSet(adopted)).isTrue();
    assertThat(adopted.getMetadata().getLabels()).containsAllEntriesOf(SELECTOR).containsEntry("tier", "front");
    assertThat(adopted.getMetadata().getOwnerReferences()).singleElement().satisfies(owner -> {
      assertThat(owner.getKind()).isEqualTo("ReplicaSet");
      assertThat(owner.getName()).isEqualTo("web-5d8f");
      assertThat(owner.getController()).isTrue();
    });
    assertThat(adopted.getMetadata().getAnnotations()).doesNotContainKey(PodOwner.WITHHELD_LABELS);
    List<String> calls = new ArrayList<>();
    RecordedRequest recorded;
    while ((recorded = server.takeRequest(10, TimeUnit.MILLISECONDS)) != null) {
      calls.add(recorded.getMethod() + " " + recorded.getPath().replaceFirst("\\?.*$", ""));
    }
    assertThat(calls).as("the source goes first, then the destination is handed over")
        .containsSubsequence("DELETE /api/v1/namespaces/default/pods/" + POD,
            "PATCH /api/v1/namespaces/default/pods/" + name);
  }

  @Test
  void aKeptCopyStaysOrphanedAndOutOfTheSelectorWhileARedirectStillReachesIt() throws Exception {
    ownedPod("ReplicaSet", "web-5d8f");
    while (server.takeRequest(10, TimeUnit.MILLISECONDS) != null) {
      // the setup's own calls are not the coordinator's
    }

    Answer answer = Http.post(coordinator.url() + "/migrate", request().put("keep", true).put("redirect", "http://x/"));

    assertThat(answer.status()).as(answer.body()).isEqualTo(200);
    List<KubePermission> made = new ArrayList<>();
    RecordedRequest recorded;
    while ((recorded = server.takeRequest(10, TimeUnit.MILLISECONDS)) != null) {
      made.add(MockCluster.permissionOf(recorded.getMethod(), recorded.getPath()));
    }
    assertThat(made).as("declared in KubePermission, so in the ClusterRole").contains(KubePermission.REPLICASETS_GET);
    Pod copy = destinationPods().get(0);
    assertThat(selectedByTheReplicaSet(copy)).isFalse();
    assertThat(copy.getMetadata().getOwnerReferences()).isNullOrEmpty();
    assertThat(new JsonObject(copy.getMetadata().getAnnotations().get(PodOwner.WITHHELD_LABELS)).getMap())
        .containsAllEntriesOf(SELECTOR);
    Pod source = MockCluster.get(client, "default", POD);
    assertThat(source.getMetadata().getOwnerReferences()).hasSize(1);
    assertThat(KubernetesCluster.annotations(source)).doesNotContainKey(MigrationKeys.ANNOTATION_MIGRATION_ID);
    Map<String, String> selector = client.services().inNamespace("default").withName("web").get().getSpec().getSelector();
    assertThat(copy.getMetadata().getLabels()).as("the switched Service selects the copy")
        .containsAllEntriesOf(selector);
  }

  @Test
  void inAnotherClusterTheDestinationGetsItsLabelsBackButNoOwner() {
    ownedPod("ReplicaSet", "web-5d8f");
    Coordinator other = testbed.coordinator(Duration.ofSeconds(10)); // another cluster id
    Answer answer = Http.post(coordinator.url() + "/migrate",
        request().put("destinationUrl", other.url()).put("destinationNode", "node-b"));

    assertThat(answer.status()).as(answer.body()).isEqualTo(200);
    Pod moved = destinationPods().get(0);
    assertThat(moved.getMetadata().getLabels()).containsAllEntriesOf(SELECTOR).containsEntry("tier", "front");
    assertThat(moved.getMetadata().getOwnerReferences()).as("the source cluster's ReplicaSet is not here").isNullOrEmpty();
    assertThat(moved.getMetadata().getAnnotations()).doesNotContainKey(PodOwner.WITHHELD_LABELS);
    assertThat(MockCluster.get(client, "default", POD)).isNull();
  }

  @Test
  void statefulSetAndDaemonSetPodsAreRefusedWith409SayingWhy() {
    ownedPod("StatefulSet", "db");
    Answer stateful = Http.post(coordinator.url() + "/migrate", request());
    assertThat(stateful.status()).as(stateful.body()).isEqualTo(409);
    assertThat(stateful.json().getString("message")).contains("StatefulSet db", "identity", "name");

    client.pods().inNamespace("default").withName(POD).edit(pod -> {
      pod.getMetadata().getOwnerReferences().get(0).setKind("DaemonSet");
      return pod;
    });
    Answer daemon = Http.post(coordinator.url() + "/migrate", request());
    assertThat(daemon.status()).as(daemon.body()).isEqualTo(409);
    assertThat(daemon.json().getString("message")).contains("DaemonSet", "one pod per node");

    assertThat(destinationPods()).isEmpty();
    assertThat(KubernetesCluster.annotations(MockCluster.get(client, "default", POD)))
        .doesNotContainKey(MigrationKeys.ANNOTATION_MIGRATION_ID);
    assertThat(nodeB.sessions()).isEmpty();
  }

  @Test
  void aSelectorThatWouldStillMatchWithoutItsLabelsIsRefused() {
    var notIn = new LabelSelectorBuilder().addNewMatchExpression().withKey("canary").withOperator("NotIn")
        .withValues("true").endMatchExpression().build();
    assertThatThrownBy(() -> PodOwner.split(notIn, Map.of("app", "web"), "pod x is owned by ReplicaSet y"))
        .isInstanceOf(MigrationException.class).hasMessageContaining("would still match");

    PodOwner.Withholding split = PodOwner.split(
        new LabelSelectorBuilder().withMatchLabels(Map.of("app", "web")).addNewMatchExpression().withKey("track")
            .withOperator("In").withValues("stable").endMatchExpression().build(),
        Map.of("app", "web", "track", "stable", "tier", "front"), "pod");
    assertThat(split.withheld()).containsOnlyKeys("app", "track");
    assertThat(split.kept()).containsOnlyKeys("tier");
  }
}
