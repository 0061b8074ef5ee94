package io.ums.coordinator.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import io.ums.coordinator.Coordinator;
import io.ums.coordinator.cluster.Cluster;
import io.ums.coordinator.migration.Failure;
import io.ums.coordinator.migration.MigrationException;
import io.vertx.core.Future;
import java.lang.reflect.Proxy;
import io.ums.coordinator.cluster.MigrationKeys;
import io.ums.coordinator.cluster.SourceWorkload;
import io.ums.coordinator.peer.PeerClient;
import io.ums.coordinator.testing.FakeAgent;
import io.ums.coordinator.testing.Http;
import io.ums.coordinator.testing.Http.Answer;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Kubernetes path against fabric8's mock API server in CRUD mode: a real kube-apiserver
 * cannot run on these machines. The node agents are {@link FakeAgent}s (the agent contract
 * without CRIU), reachable at the pod IP and "control" port the agent pods declare.
 */
@EnableKubernetesMockClient(crud = true)
class KubernetesClusterTest {
  private static final String AGENTS = KubernetesCluster.DEFAULT_AGENT_NAMESPACE;

  KubernetesClient client;
  KubernetesMockServer server;

  private KubeTestbed testbed;
  private Vertx vertx;
  private FakeAgent nodeA;
  private FakeAgent nodeB;
  private Coordinator coordinator;

  @BeforeEach
  void start() {
    testbed = new KubeTestbed(client);
    vertx = testbed.vertx;
    nodeA = testbed.nodeA();
    nodeB = testbed.nodeB();
    nodeA.addWorkload("web");
    client.pods().inNamespace("default").resource(new PodBuilder()
        .withNewMetadata().withName("web").withNamespace("default")
          .withLabels(Map.of("app", "web"))
          .withAnnotations(Map.of(DestinationPods.LAST_APPLIED, "{\"stale\":true}", "team", "blue"))
        .endMetadata()
        .withNewSpec().withNodeName("node-a")
          .addNewContainer().withName("web").withImage("registry.local/web:1.2")
            .addNewVolumeMount().withName("kube-api-access-x1y2z").withMountPath("/var/run/secrets").endVolumeMount()
            .addNewVolumeMount().withName("data").withMountPath("/data").endVolumeMount()
          .endContainer()
          .addNewVolume().withName("kube-api-access-x1y2z").withNewProjected().endProjected().endVolume()
          .addNewVolume().withName("data").withNewEmptyDir().endEmptyDir().endVolume()
        .endSpec()
        .withNewStatus().withPhase("Running").withPodIP("10.0.0.9").endStatus()
        .build()).create();
    MockCluster.service(client, "web", Map.of("app", "web"));
    coordinator = testbed.coordinator(Duration.ofSeconds(10));
  }

  @AfterEach
  void stop() {
    testbed.close();
  }

  private JsonObject request() {
    return new JsonObject().put("name", "web").put("namespace", "default").put("destinationUrl", coordinator.url());
  }

  private Pod pod(String name) {
    return client.pods().inNamespace("default").withName(name).get();
  }

  private List<Pod> destinationPods() {
    return client.pods().inNamespace("default").list().getItems().stream()
        .filter(p -> p.getMetadata().getName().startsWith("web-m")).toList();
  }

  private List<String> eventReasons() {
    return client.v1().events().inNamespace("default").list().getItems().stream().map(Event::getReason).toList();
  }

  @Test
  void resolvesPodToNodeToTheAgentOfThatNode() {
    PeerClient http = new PeerClient(WebClient.create(vertx), Duration.ofSeconds(5));
    KubernetesCluster direct = new KubernetesCluster(vertx, client, AGENTS, http);

    SourceWorkload workload = direct.resolve("default", "web").await();

    assertThat(workload.node()).isEqualTo("node-a");
    assertThat(workload.agent().controlUrl()).isEqualTo(nodeA.url());
    JsonObject template = workload.podTemplate().orElseThrow();
    assertThat(template.getJsonObject("spec").getString("nodeName")).isNull();
    assertThat(template.getJsonObject("metadata").getJsonObject("annotations").containsKey(DestinationPods.LAST_APPLIED))
        .isFalse();
    Answer unknown = Http.post(coordinator.url() + "/migrate", request().put("name", "nope"));
    assertThat(unknown.status()).isEqualTo(404);
  }

  @Test
  void aNulByteInANameOrNamespaceIs400NamingTheField() {
    Answer name = Http.post(coordinator.url() + "/migrate", request().put("name", "we\u0000b"));
    Answer namespace = Http.post(coordinator.url() + "/migrate", request().put("namespace", "default\u0000"));

    assertThat(name.status()).as(name.body()).isEqualTo(400);
    assertThat(name.json().getString("message")).startsWith("name:").contains("NUL");
    assertThat(namespace.status()).as(namespace.body()).isEqualTo(400);
    assertThat(namespace.json().getString("message")).startsWith("namespace:");
    assertThat(name.body() + namespace.body()).doesNotContain("Exception", "\tat ");
  }

  @Test
  void migratingAPodToTheNodeItRunsOnIs409AndLeavesItAlone() {
    Answer answer = Http.post(coordinator.url() + "/migrate", request().put("destinationNode", "node-a"));

    assertThat(answer.status()).as(answer.body()).isEqualTo(409);
    assertThat(answer.json().getString("message")).contains("default/web", "already runs on node node-a");
    assertThat(destinationPods()).isEmpty();
    assertThat(nodeA.sessions()).isEmpty();
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(pod("web").getMetadata().getAnnotations())
        .doesNotContainKey(MigrationKeys.ANNOTATION_MIGRATION_ID));
  }

  @Test
  void migrationCreatesThePinnedDestinationPodDeletesTheSourceAndSwitchesTheService() {
    Answer answer = Http.post(coordinator.url() + "/migrate", request().put("redirect", "http://web.other/"));

    assertThat(answer.status()).as(answer.body()).isEqualTo(200);
    List<Pod> created = destinationPods();
    assertThat(created).hasSize(1);
    Pod destination = created.get(0);
    String name = destination.getMetadata().getName();
    assertThat(answer.json().getJsonObject("destination").getString("pod")).isEqualTo(name);
    assertThat(destination.getSpec().getNodeName()).isEqualTo("node-b");
    assertThat(destination.getSpec().getContainers().get(0).getImage()).isEqualTo("registry.local/web:1.2");
    assertThat(destination.getSpec().getVolumes()).extracting(v -> v.getName()).containsExactly("data");
    assertThat(destination.getMetadata().getLabels()).containsEntry("app", "web")
        .containsEntry(MigrationKeys.LABEL_INSTANCE, name);
    assertThat(destination.getMetadata().getAnnotations()).containsEntry("team", "blue")
        .containsEntry(MigrationKeys.ANNOTATION_RESTORE_FROM, answer.json().getString("migrationId"))
        .doesNotContainKeys(DestinationPods.LAST_APPLIED, MigrationKeys.ANNOTATION_MIGRATION_ID,
            MigrationKeys.ANNOTATION_DESTINATION_STEP);
    assertThat(destination.getMetadata().getLabels()).as("settled: nothing left for a restarted coordinator")
        .doesNotContainKey(MigrationKeys.LABEL_DESTINATION_OF);
    assertThat(pod("web")).as("source deleted").isNull();
    assertThat(client.services().inNamespace("default").withName("web").get().getSpec().getSelector())
        .containsEntry("app", "web").containsEntry(MigrationKeys.LABEL_INSTANCE, name);
    assertThat(eventReasons()).contains("MigrationStarted", "Migrated", "Redirected");
    assertThat(nodeB.workloadNames()).containsExactly("web");
  }

  @Test
  void everyApiCallTheCoordinatorMakesIsADeclaredPermission() throws Exception {
    while (server.takeRequest(10, TimeUnit.MILLISECONDS) != null) {
      // the setup's own calls (creating pods and a service) are not the coordinator's
    }
    nodeA.script(FakeAgent.Script.ROLL_BACK);
    Http.post(coordinator.url() + "/migrate", request());
    nodeA.script(FakeAgent.Script.SUCCEED);
    Http.post(coordinator.url() + "/migrate", request().put("keep", true).put("redirect", "http://x/"));
    Http.get(coordinator.url() + "/list");

    Set<KubePermission> made = EnumSet.noneOf(KubePermission.class);
    RecordedRequest recorded;
    while ((recorded = server.takeRequest(10, TimeUnit.MILLISECONDS)) != null) {
      made.add(MockCluster.permissionOf(recorded.getMethod(), recorded.getPath()));
    }
    assertThat(made).containsAll(testbed.cluster().permissionsUsed())
        .contains(KubePermission.PODS_UPDATE, KubePermission.PODS_PATCH, KubePermission.SERVICES_PATCH,
            KubePermission.EVENTS_CREATE, KubePermission.PODS_DELETE);
  }

  @Test
  void keepLeavesTheSourcePodRunningAndUnlocked() {
    Answer answer = Http.post(coordinator.url() + "/migrate", request().put("keep", "true"));

    assertThat(answer.status()).as(answer.body()).isEqualTo(200);
    Pod source = pod("web");
    assertThat(source).isNotNull();
    assertThat(KubernetesCluster.annotations(source))
        .doesNotContainKeys(MigrationKeys.ANNOTATION_MIGRATION_ID, MigrationKeys.ANNOTATION_MIGRATION_STEP);
    assertThat(destinationPods()).singleElement().satisfies(copy -> assertThat(copy.getMetadata().getLabels())
        .doesNotContainKey(MigrationKeys.LABEL_DESTINATION_OF));
    assertThat(client.services().inNamespace("default").withName("web").get().getSpec().getSelector())
        .as("no redirect asked").doesNotContainKey(MigrationKeys.LABEL_INSTANCE);
  }

  @Test
  void thePodIsLockedWhileMigratingAndASecondMigrationIs409() throws Exception {
    nodeA.script(FakeAgent.Script.WAIT_FOR_RELEASE);
    CompletableFuture<Answer> first =
        CompletableFuture.supplyAsync(() -> Http.post(coordinator.url() + "/migrate", request()));
    await().atMost(Duration.ofSeconds(10)).until(() -> !nodeB.sessions().isEmpty());

    Map<String, String> annotations = KubernetesCluster.annotations(pod("web"));
    assertThat(annotations).containsKey(MigrationKeys.ANNOTATION_MIGRATION_ID)
        .containsKey(MigrationKeys.ANNOTATION_MIGRATION_STEP);
    Answer second = Http.post(coordinator.url() + "/migrate", request());
    assertThat(second.status()).as(second.body()).isEqualTo(409);
    assertThat(second.json().getString("message")).contains(annotations.get(MigrationKeys.ANNOTATION_MIGRATION_ID));

    nodeA.release();
    assertThat(first.get().status()).isEqualTo(200);
  }

  @Test
  void aLockLeftByADeadCoordinatorIsTakenOverUnlessTheAgentStillMigrates() {
    client.pods().inNamespace("default").withName("web").edit(pod -> {
      pod.getMetadata().getAnnotations().put(MigrationKeys.ANNOTATION_MIGRATION_ID, "crashed-coordinator-run");
      pod.getMetadata().getAnnotations().put(MigrationKeys.ANNOTATION_MIGRATION_STEP, "TRANSFERRING");
      return pod;
    });
    nodeA.markMigrating("web");
    Answer refused = Http.post(coordinator.url() + "/migrate", request());
    assertThat(refused.status()).as(refused.body()).isEqualTo(409);
    assertThat(refused.json().getString("message")).contains("crashed-coordinator-run");

    nodeA = testbed.restartNodeA(); // the agent came back: it migrates nothing now
    nodeA.addWorkload("web");

    Answer taken = Http.post(coordinator.url() + "/migrate", request());
    assertThat(taken.status()).as(taken.body()).isEqualTo(200);
    assertThat(eventReasons()).contains("StaleLockReclaimed", "Migrated");
  }

  @Test
  void afterTheCommitAFailingSourceCleanUpIsAWarningAndTheNextAttemptFinishesTheMigration() {
    coordinator = testbed.coordinator(Duration.ofSeconds(10), real -> (Cluster) Proxy.newProxyInstance(
        Cluster.class.getClassLoader(), new Class<?>[] {Cluster.class}, (proxy, method, args) ->
            method.getName().equals("finishSource")
                ? Future.failedFuture(new MigrationException(Failure.PEER_FAILED, "API server unreachable"))
                : method.invoke(real, args)));

    Answer answer = Http.post(coordinator.url() + "/migrate", request());

    assertThat(answer.status()).as("the workload runs at the destination: no rollback").isEqualTo(200);
    assertThat(answer.json().getJsonArray("warnings").encode()).contains("deleting the source failed",
        "API server unreachable");
    Pod destination = destinationPods().get(0);
    assertThat(KubernetesCluster.annotations(destination))
        .containsEntry(MigrationKeys.ANNOTATION_DESTINATION_STEP, MigrationKeys.STEP_COMMITTED);
    assertThat(KubernetesCluster.annotations(pod("web"))).as("still locked").containsKey(MigrationKeys.ANNOTATION_MIGRATION_ID);

    Answer again = Http.post(coordinator.url() + "/migrate", request());
    assertThat(again.status()).as(again.body()).isEqualTo(404);
    assertThat(again.json().getString("message")).contains("had already moved");
    assertThat(pod("web")).as("the stale migration was finished: source deleted").isNull();
    assertThat(pod(destination.getMetadata().getName()).getMetadata().getLabels())
        .doesNotContainKey(MigrationKeys.LABEL_DESTINATION_OF);
  }

  @Test
  void anAgentFailureRemovesTheDestinationPodAndUnlocksTheSource() {
    nodeA.script(FakeAgent.Script.ROLL_BACK);

    Answer answer = Http.post(coordinator.url() + "/migrate", request());

    assertThat(answer.status()).as(answer.body()).isEqualTo(502);
    assertThat(destinationPods()).isEmpty();
    Pod source = pod("web");
    assertThat(source).isNotNull();
    assertThat(KubernetesCluster.annotations(source)).doesNotContainKey(MigrationKeys.ANNOTATION_MIGRATION_ID);
    assertThat(eventReasons()).contains("MigrationStarted", "MigrationRolledBack");
    assertThat(nodeB.abortedIds()).hasSize(1);
  }

  @Test
  void listsPodsWithTheirMigrationState() {
    JsonObject list = Http.get(coordinator.url() + "/list?namespace=default").json();
    assertThat(list.getJsonArray("workloads")).hasSize(1);
    JsonObject web = list.getJsonArray("workloads").getJsonObject(0);
    assertThat(web.getString("node")).isEqualTo("node-a");
    assertThat(web.getBoolean("migratable")).isTrue();
    JsonObject description = Http.get(coordinator.url() + "/").json();
    assertThat(description.getString("mode")).isEqualTo("kubernetes");
    assertThat(description.getJsonArray("agents")).hasSize(2);
  }
}
