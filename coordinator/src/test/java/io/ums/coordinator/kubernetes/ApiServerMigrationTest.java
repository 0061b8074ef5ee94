package io.ums.coordinator.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.ums.coordinator.Coordinator;
import io.ums.coordinator.cluster.MigrationKeys;
import io.ums.coordinator.config.Defaults;
import io.ums.coordinator.migration.MigrationSettings;
import io.ums.coordinator.testing.FakeAgent;
import io.ums.coordinator.testing.Http;
import io.ums.coordinator.testing.Http.Answer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The coordinator's Kubernetes calls against a REAL control plane ({@link RealControlPlane}: etcd,
 * kube-apiserver with RBAC, kube-controller-manager with its ReplicaSet, ServiceAccount and root-CA
 * controllers, kube-scheduler), what fabric8's mock server cannot prove: the coordinator authenticates with a
 * ServiceAccount token the API server signed and holds exactly the ClusterRole of deploy/coordinator.yml
 * (a missing permission fails these tests); the lock is an optimistic update against real resourceVersions;
 * the destination pod it creates passes the API server's validation and admission; the Service switch and
 * Events are accepted; a real ReplicaSet controller takes the moved pod over. There are no kubelets: the
 * node agents are {@link FakeAgent}s behind agent pods, and the test writes pod status as a kubelet would.
 * A pod bound to a node is only marked for deletion by the API server until its kubelet confirms, so
 * "deleted" here means terminating (deletionTimestamp set).
 */
@Tag("slow")
@Tag("k8s")
class ApiServerMigrationTest {
  private static final String AGENTS = KubernetesCluster.DEFAULT_AGENT_NAMESPACE;
  private static final Duration POLL = Duration.ofMillis(50);
  private static final Duration WAIT = Duration.ofSeconds(60);

  private static RealControlPlane controlPlane;
  private static KubernetesClient admin;
  private static KubernetesClient coordinatorAccount;

  private final Vertx vertx = Vertx.vertx();
  private final List<Coordinator> coordinators = new ArrayList<>();
  private FakeAgent nodeA;
  private FakeAgent nodeB;
  private String namespace;

  @BeforeAll
  static void startControlPlane() throws Exception {
    controlPlane = RealControlPlane.start();
    admin = controlPlane.admin();
    controlPlane.registerNodes("node-a", "node-b");
    // deploy/coordinator.yml as it is: its namespace, ServiceAccount, ClusterRole and binding (the Deployment
    // and Service need a kubelet; the coordinator runs in this JVM under the ServiceAccount instead)
    Set<String> kinds = Set.of("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding");
    List<HasMetadata> applied = controlPlane.apply(RealControlPlane.repositoryRoot().resolve("deploy/coordinator.yml"),
        item -> kinds.contains(item.getKind()));
    assertThat(applied).extracting(HasMetadata::getKind).containsExactlyInAnyOrderElementsOf(kinds);
    // agent pods (created by the tests) need the namespace's "default" account, which the controller-manager adds
    await().atMost(WAIT).ignoreExceptions().until(() ->
        admin.serviceAccounts().inNamespace(AGENTS).withName("default").get() != null);
    coordinatorAccount = controlPlane.serviceAccountClient(AGENTS, "ums-coordinator");
  }

  @AfterAll
  static void stopControlPlane() throws Exception {
    if (coordinatorAccount != null) {
      coordinatorAccount.close();
    }
    if (controlPlane != null) {
      controlPlane.close();
    }
  }

  @BeforeEach
  void start() {
    namespace = "t-" + UUID.randomUUID().toString().substring(0, 8);
    admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
        .create();
    // the ServiceAccount controller gives every namespace its "default" account; pods wait for it
    await().atMost(WAIT).until(() -> admin.serviceAccounts().inNamespace(namespace).withName("default").get() != null);
    nodeA = FakeAgent.start(vertx, "node-a");
    nodeB = FakeAgent.start(vertx, "node-b");
    agentPod("ums-agent-a-" + namespace, "node-a", nodeA);
    agentPod("ums-agent-b-" + namespace, "node-b", nodeB);
  }

  @AfterEach
  void stop() {
    for (int i = coordinators.size() - 1; i >= 0; i--) {
      coordinators.get(i).close().await();
    }
    nodeA.close();
    nodeB.close();
    vertx.close().await();
    admin.pods().inNamespace(AGENTS).withLabel(Defaults.AGENT_LABEL_KEY, Defaults.AGENT_LABEL_VALUE)
        .withGracePeriod(0).delete();
    admin.namespaces().withName(namespace).delete();
  }

  /** A coordinator in Kubernetes mode whose only credential is the ServiceAccount's token. */
  private Coordinator coordinator(KubernetesClient account) {
    Coordinator started = Coordinator.start(vertx, "127.0.0.1", 0,
        http -> new KubernetesCluster(vertx, account, AGENTS, http),
        new MigrationSettings(POLL, Duration.ofSeconds(20))).await();
    coordinators.add(started);
    return started;
  }

  /** An agent pod the way the DaemonSet's would look once its kubelet reported it Running. */
  private void agentPod(String name, String node, FakeAgent agent) {
    admin.pods().inNamespace(AGENTS).resource(new PodBuilder()
        .withNewMetadata().withName(name).withNamespace(AGENTS)
          .withLabels(Map.of(Defaults.AGENT_LABEL_KEY, Defaults.AGENT_LABEL_VALUE)).endMetadata()
        .withNewSpec().withNodeName(node)
          .addNewContainer().withName("agent").withImage("ums-agent:0.1.0")
            .addNewPort().withName(Defaults.AGENT_CONTROL_PORT_NAME).withContainerPort(agent.port()).endPort()
          .endContainer()
        .endSpec().build()).create();
    kubeletReportsRunning(AGENTS, name, "127.0.0.1");
  }

  /** What the pod's kubelet would write: Running, Ready, an IP. */
  private void kubeletReportsRunning(String podNamespace, String name, String ip) {
    admin.pods().inNamespace(podNamespace).withName(name).editStatus(pod -> new PodBuilder(pod)
        .editOrNewStatus().withPhase("Running").withPodIP(ip).withHostIP("10.0.255.1")
          .withConditions(new PodConditionBuilder().withType("Ready").withStatus("True").build())
          .withContainerStatuses(pod.getSpec().getContainers().stream().map(c -> new ContainerStatusBuilder()
              .withName(c.getName()).withImage(c.getImage()).withImageID("").withReady(true).withRestartCount(0)
              .withNewState().withNewRunning().endRunning().endState().build()).toList())
        .endStatus().build());
  }

  private void sourcePod(String name, Map<String, String> labels) {
    admin.pods().inNamespace(namespace).resource(new PodBuilder()
        .withNewMetadata().withName(name).withNamespace(namespace).withLabels(labels)
          .withAnnotations(Map.of("team", "blue")).endMetadata()
        .withNewSpec().withNodeName("node-a")
          .addNewContainer().withName("web").withImage("registry.local/web:1.2")
            .addNewVolumeMount().withName("data").withMountPath("/data").endVolumeMount()
          .endContainer()
          .addNewVolume().withName("data").withNewEmptyDir().endEmptyDir().endVolume()
        .endSpec().build()).create();
    kubeletReportsRunning(namespace, name, "10.244.1.9");
  }

  private void service(String name, Map<String, String> selector) {
    admin.services().inNamespace(namespace).resource(new io.fabric8.kubernetes.api.model.ServiceBuilder()
        .withNewMetadata().withName(name).withNamespace(namespace).endMetadata()
        .withNewSpec().withSelector(selector).addNewPort().withPort(80).endPort().endSpec()
        .build()).create();
  }

  private Pod pod(String name) {
    return admin.pods().inNamespace(namespace).withName(name).get();
  }

  /** Neither gone nor terminating (what a kubelet would finish deleting). */
  private static boolean live(Pod pod) {
    return pod != null && pod.getMetadata().getDeletionTimestamp() == null;
  }

  private List<Pod> livePods(String prefix) {
    return admin.pods().inNamespace(namespace).list().getItems().stream()
        .filter(p -> p.getMetadata().getName().startsWith(prefix)).filter(ApiServerMigrationTest::live).toList();
  }

  private List<String> eventReasons() {
    return admin.v1().events().inNamespace(namespace).list().getItems().stream().map(Event::getReason).toList();
  }

  private JsonObject request(Coordinator coordinator, String pod) {
    return new JsonObject().put("name", pod).put("namespace", namespace).put("destinationUrl", coordinator.url());
  }

  @Test
  void withTheManifestsClusterRoleAPodMovesItsServiceSwitchesAndEventsAreRecorded() {
    nodeA.addWorkload("web");
    sourcePod("web", Map.of("app", "web"));
    service("web", Map.of("app", "web"));
    Coordinator coordinator = coordinator(coordinatorAccount);

    Answer listed = Http.get(coordinator.url() + "/list?namespace=" + namespace);
    assertThat(listed.status()).as(listed.body()).isEqualTo(200);
    assertThat(listed.json().getJsonArray("workloads").getJsonObject(0).getBoolean("migratable")).isTrue();

    Answer answer = Http.post(coordinator.url() + "/migrate", request(coordinator, "web").put("redirect", "http://x/"));

    assertThat(answer.status()).as(answer.body()).isEqualTo(200);
    String name = answer.json().getJsonObject("destination").getString("pod");
    Pod destination = pod(name);
    assertThat(destination.getSpec().getNodeName()).isEqualTo("node-b");
    assertThat(destination.getSpec().getVolumes()).extracting(v -> v.getName()).contains("data")
        .as("the API server's ServiceAccount admission mounted a fresh token volume")
        .anyMatch(v -> v.startsWith("kube-api-access-"));
    assertThat(destination.getMetadata().getLabels()).containsEntry("app", "web")
        .containsEntry(MigrationKeys.LABEL_INSTANCE, name).doesNotContainKey(MigrationKeys.LABEL_DESTINATION_OF);
    assertThat(destination.getMetadata().getAnnotations()).containsEntry("team", "blue")
        .doesNotContainKeys(MigrationKeys.ANNOTATION_MIGRATION_ID, MigrationKeys.ANNOTATION_DESTINATION_STEP);
    assertThat(live(pod("web"))).as("source deleted (terminating until its kubelet confirms)").isFalse();
    assertThat(admin.services().inNamespace(namespace).withName("web").get().getSpec().getSelector())
        .containsEntry("app", "web").containsEntry(MigrationKeys.LABEL_INSTANCE, name);
    assertThat(eventReasons()).contains("MigrationStarted", "Migrated", "Redirected");
    assertThat(nodeB.workloadNames()).containsExactly("web");
  }

  @Test
  void aLockedPodRefusesASecondMigrationAndOfTwoRacingLocksExactlyOneWins() throws Exception {
    nodeA.addWorkload("web");
    sourcePod("web", Map.of("app", "web"));
    Coordinator coordinator = coordinator(coordinatorAccount);
    nodeA.script(FakeAgent.Script.WAIT_FOR_RELEASE);
    CompletableFuture<Answer> first =
        CompletableFuture.supplyAsync(() -> Http.post(coordinator.url() + "/migrate", request(coordinator, "web")));
    await().atMost(WAIT).until(() -> !nodeB.sessions().isEmpty());
    String holder = KubernetesCluster.annotations(pod("web")).get(MigrationKeys.ANNOTATION_MIGRATION_ID);
    assertThat(holder).isNotNull();
    Answer second = Http.post(coordinator.url() + "/migrate", request(coordinator, "web"));
    assertThat(second.status()).as(second.body()).isEqualTo(409);
    assertThat(second.json().getString("message")).contains(holder);
    nodeA.release();
    assertThat(first.get().status()).as(first.get().body()).isEqualTo(200);

    // two coordinators' locks on one pod at the same moment: the API server's resourceVersion check lets one win
    sourcePod("api", Map.of("app", "api"));
    for (int round = 0; round < 5; round++) {
      PodLock one = new PodLock(coordinatorAccount, new KubeCalls(vertx));
      PodLock other = new PodLock(coordinatorAccount, new KubeCalls(vertx));
      Future<Void> a = one.acquire(namespace, "api", "m-one-" + round, "process", null);
      Future<Void> b = other.acquire(namespace, "api", "m-other-" + round, "process", null);
      Future.join(a, b).toCompletionStage().handle((ok, failed) -> null).toCompletableFuture().get();
      assertThat(List.of(a.succeeded(), b.succeeded())).as("round " + round).containsExactlyInAnyOrder(true, false);
      Future<Void> loser = a.succeeded() ? b : a;
      assertThat(loser.cause()).hasMessageContaining("already migrating");
      String winner = a.succeeded() ? "m-one-" + round : "m-other-" + round;
      assertThat(KubernetesCluster.annotations(pod("api"))).containsEntry(MigrationKeys.ANNOTATION_MIGRATION_ID, winner);
      (a.succeeded() ? one : other).release(namespace, "api", winner).toCompletionStage().toCompletableFuture().get();
    }
  }

  @Test
  void theRealReplicaSetControllerTakesTheMovedPodAndKeepsOneReplica() {
    Map<String, String> selector = Map.of("app", "web", "pod-template-hash", "5d8f");
    ReplicaSet replicaSet = admin.apps().replicaSets().inNamespace(namespace).resource(new ReplicaSetBuilder()
        .withNewMetadata().withName("web-5d8f").withNamespace(namespace).endMetadata()
        .withNewSpec().withReplicas(1).withSelector(new LabelSelectorBuilder().withMatchLabels(selector).build())
          .withNewTemplate().withNewMetadata().withLabels(Map.of("app", "web", "pod-template-hash", "5d8f", "tier", "front"))
            .endMetadata()
            .withNewSpec().addNewContainer().withName("web").withImage("registry.local/web:1.2").endContainer().endSpec()
          .endTemplate()
        .endSpec().build()).create();
    // the controller-manager's ReplicaSet controller creates the pod; the test binds it to node-a as a
    // scheduler would and reports it Running as node-a's kubelet would
    await().atMost(WAIT).until(() -> livePods("web-5d8f-").size() == 1);
    String source = livePods("web-5d8f-").get(0).getMetadata().getName();
    if (pod(source).getSpec().getNodeName() == null) {
      admin.bindings().inNamespace(namespace).resource(new io.fabric8.kubernetes.api.model.BindingBuilder()
          .withNewMetadata().withName(source).withNamespace(namespace).endMetadata()
          .withNewTarget().withKind("Node").withName("node-a").endTarget().build()).create();
    }
    await().atMost(WAIT).until(() -> "node-a".equals(pod(source).getSpec().getNodeName()));
    kubeletReportsRunning(namespace, source, "10.244.1.10");
    nodeA.addWorkload(source);
    Coordinator coordinator = coordinator(coordinatorAccount);

    Answer answer = Http.post(coordinator.url() + "/migrate", request(coordinator, source));

    assertThat(answer.status()).as(answer.body()).isEqualTo(200);
    String moved = answer.json().getJsonObject("destination").getString("pod");
    assertThat(pod(moved).getMetadata().getOwnerReferences()).singleElement().satisfies(owner -> {
      assertThat(owner.getUid()).isEqualTo(replicaSet.getMetadata().getUid());
      assertThat(owner.getController()).isTrue();
    });
    assertThat(pod(moved).getMetadata().getLabels()).containsAllEntriesOf(selector).containsEntry("tier", "front");
    kubeletReportsRunning(namespace, moved, "10.244.2.10");
    // whether or not the controller made a replacement in between, it settles on the moved pod alone
    await().atMost(WAIT).untilAsserted(() -> assertThat(livePods("web-5d8f"))
        .extracting(p -> p.getMetadata().getName()).containsExactly(moved));
    await().atMost(WAIT).until(() -> {
      ReplicaSet now = admin.apps().replicaSets().inNamespace(namespace).withName("web-5d8f").get();
      return now.getStatus() != null && Integer.valueOf(1).equals(now.getStatus().getReadyReplicas());
    });
    assertThat(live(pod(moved))).as("the moved pod is never the one scaled down").isTrue();
  }

  @Test
  void theServiceAccountHasTheClusterRoleAndNothingMore() {
    assertThatThrownBy(() -> coordinatorAccount.secrets().inNamespace(AGENTS).list())
        .isInstanceOf(KubernetesClientException.class).satisfies(e ->
            assertThat(((KubernetesClientException) e).getCode()).isEqualTo(403));
    assertThatThrownBy(() -> coordinatorAccount.services().inNamespace(namespace).withName("x").delete())
        .isInstanceOf(KubernetesClientException.class).satisfies(e ->
            assertThat(((KubernetesClientException) e).getCode()).isEqualTo(403));
    assertThat(coordinatorAccount.pods().inNamespace(namespace).list().getItems()).isEmpty();
  }

  @Test
  void aClusterRoleMissingOnePermissionMakesTheMigrationFail() throws Exception {
    // the manifest's role without "update pods" (the lock), bound to another ServiceAccount
    ClusterRole role = admin.rbac().clusterRoles().withName("ums-coordinator").get();
    String reduced = "ums-coordinator-no-update-" + namespace;
    admin.rbac().clusterRoles().resource(new io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder()
        .withNewMetadata().withName(reduced).endMetadata()
        .withRules(role.getRules().stream().map(rule -> new io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder(rule)
            .withVerbs(rule.getVerbs().stream().filter(v -> !(rule.getResources().contains("pods") && v.equals("update")))
                .toList()).build()).toList())
        .build()).create();
    admin.serviceAccounts().inNamespace(namespace).resource(new io.fabric8.kubernetes.api.model.ServiceAccountBuilder()
        .withNewMetadata().withName("reduced").endMetadata().build()).create();
    admin.rbac().clusterRoleBindings().resource(new io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder()
        .withNewMetadata().withName(reduced).endMetadata()
        .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("ClusterRole").withName(reduced).endRoleRef()
        .addNewSubject().withKind("ServiceAccount").withName("reduced").withNamespace(namespace).endSubject()
        .build()).create();
    nodeA.addWorkload("web");
    sourcePod("web", Map.of("app", "web"));
    try (KubernetesClient account = controlPlane.serviceAccountClient(namespace, "reduced")) {
      Coordinator coordinator = coordinator(account);

      Answer answer = Http.post(coordinator.url() + "/migrate", request(coordinator, "web"));

      assertThat(answer.status()).as(answer.body()).isGreaterThanOrEqualTo(500);
      assertThat(answer.body()).contains("forbidden");
      assertThat(livePods("web-m")).isEmpty();
      assertThat(KubernetesCluster.annotations(pod("web"))).doesNotContainKey(MigrationKeys.ANNOTATION_MIGRATION_ID);
    } finally {
      admin.rbac().clusterRoleBindings().withName(reduced).delete();
      admin.rbac().clusterRoles().withName(reduced).delete();
    }
  }

  @Test
  void anAgentFailureRemovesTheDestinationPodAndUnlocksTheSource() {
    nodeA.addWorkload("web");
    sourcePod("web", Map.of("app", "web"));
    Coordinator coordinator = coordinator(coordinatorAccount);
    nodeA.script(FakeAgent.Script.ROLL_BACK);

    Answer answer = Http.post(coordinator.url() + "/migrate", request(coordinator, "web"));

    assertThat(answer.status()).as(answer.body()).isEqualTo(502);
    assertThat(livePods("web-m")).isEmpty();
    assertThat(live(pod("web"))).isTrue();
    assertThat(KubernetesCluster.annotations(pod("web"))).doesNotContainKey(MigrationKeys.ANNOTATION_MIGRATION_ID);
    assertThat(eventReasons()).contains("MigrationStarted", "MigrationRolledBack");
  }
}
