package io.ums.coordinator.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.ums.coordinator.Defaults;
import io.ums.coordinator.kubernetes.KubePermission;
import io.ums.coordinator.kubernetes.KubernetesCluster;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Loads every manifest under deploy/ with fabric8 (no cluster needed for parsing) and checks that
 * it agrees with the code: kinds, selectors vs labels, ports vs {@link Defaults}, the agent's
 * grace period, and RBAC exactly equal to the calls the coordinator makes ({@link KubePermission}).
 */
class ManifestsTest {
  private static final Path DEPLOY = Path.of("..", "deploy");
  private static KubernetesClient client;

  @BeforeAll
  static void parser() {
    client = new KubernetesClientBuilder().build(); // only used to parse; never connects
  }

  @AfterAll
  static void close() {
    client.close();
  }

  private static List<HasMetadata> load(String file) {
    try (InputStream in = Files.newInputStream(DEPLOY.resolve(file))) {
      return client.load(in).items();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static <T extends HasMetadata> T one(List<HasMetadata> items, Class<T> type) {
    List<T> found = items.stream().filter(type::isInstance).map(type::cast).toList();
    assertThat(found).as(type.getSimpleName()).hasSize(1);
    return found.get(0);
  }

  @Test
  void everyManifestLoadsWithTheExpectedKinds() throws IOException {
    List<String> files;
    try (Stream<Path> listing = Files.list(DEPLOY)) {
      files = listing.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yml") || n.endsWith(".yaml"))
          .sorted().toList();
    }
    assertThat(files).containsExactly("coordinator.yml", "daemonset.yml");
    for (String file : files) {
      assertThat(load(file)).as(file).allSatisfy(item -> {
        assertThat(item.getMetadata().getName()).isNotBlank();
        assertThat(item.getMetadata().getLabels()).containsEntry("app.kubernetes.io/part-of", "ums");
      });
    }
    assertThat(load("daemonset.yml")).extracting(HasMetadata::getKind)
        .containsExactlyInAnyOrder("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet");
    assertThat(load("coordinator.yml")).extracting(HasMetadata::getKind)
        .containsExactlyInAnyOrder("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment",
            "Service");
  }

  @Test
  void theAgentDaemonSetMatchesTheCode() {
    DaemonSet daemonSet = one(load("daemonset.yml"), DaemonSet.class);
    Map<String, String> labels = daemonSet.getSpec().getTemplate().getMetadata().getLabels();
    assertThat(labels).containsAllEntriesOf(daemonSet.getSpec().getSelector().getMatchLabels())
        .containsEntry(Defaults.AGENT_LABEL_KEY, Defaults.AGENT_LABEL_VALUE);
    assertThat(daemonSet.getMetadata().getNamespace()).isEqualTo(KubernetesCluster.DEFAULT_AGENT_NAMESPACE);
    assertThat(daemonSet.getSpec().getUpdateStrategy().getType()).isEqualTo("RollingUpdate");

    PodSpec pod = daemonSet.getSpec().getTemplate().getSpec();
    assertThat(pod.getHostPID()).isTrue();
    assertThat(pod.getTolerations()).anySatisfy(t -> {
      assertThat(t.getOperator()).isEqualTo("Exists");
      assertThat(t.getKey()).isNull();
    });
    Container agent = pod.getContainers().get(0);
    assertThat(agent.getSecurityContext().getPrivileged()).isTrue();
    assertThat(ports(agent)).containsEntry(Defaults.AGENT_CONTROL_PORT_NAME, Defaults.AGENT_CONTROL_PORT)
        .containsEntry(Defaults.AGENT_DATA_PORT_NAME, Defaults.AGENT_DATA_PORT);
    assertThat(agent.getArgs()).contains("--control-port=" + Defaults.AGENT_CONTROL_PORT,
        "--data-port=" + Defaults.AGENT_DATA_PORT, "--grace-period=" + Defaults.AGENT_SHUTDOWN_GRACE.toSeconds());
    assertThat(pod.getTerminationGracePeriodSeconds()).as("covers the agent's drain")
        .isGreaterThanOrEqualTo(Defaults.AGENT_SHUTDOWN_GRACE.plus(Defaults.AGENT_DRAIN_SLACK).toSeconds());
    assertThat(agent.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/health");
    assertThat(agent.getReadinessProbe().getHttpGet().getPort().getStrVal()).isEqualTo(Defaults.AGENT_CONTROL_PORT_NAME);
    assertThat(agent.getResources().getRequests()).containsKeys("cpu", "memory");
    Set<String> hostPaths = pod.getVolumes().stream().filter(v -> v.getHostPath() != null)
        .map(v -> v.getHostPath().getPath()).collect(Collectors.toSet());
    assertThat(hostPaths).contains("/var/lib/ums", "/sys/fs/cgroup", "/run/containerd");
    Set<String> volumes = pod.getVolumes().stream().map(v -> v.getName()).collect(Collectors.toSet());
    assertThat(agent.getVolumeMounts()).allSatisfy(m -> assertThat(volumes).contains(m.getName()));
    ServiceAccount account = one(load("daemonset.yml"), ServiceAccount.class);
    assertThat(pod.getServiceAccountName()).isEqualTo(account.getMetadata().getName());
  }

  @Test
  void theAgentMayOnlyAskItsKubeletForCheckpoints() {
    List<HasMetadata> items = load("daemonset.yml");
    ClusterRole role = one(items, ClusterRole.class);
    ClusterRoleBinding binding = one(items, ClusterRoleBinding.class);
    ServiceAccount account = one(items, ServiceAccount.class);
    assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
    assertThat(binding.getSubjects()).singleElement().satisfies(subject -> {
      assertThat(subject.getName()).isEqualTo(account.getMetadata().getName());
      assertThat(subject.getNamespace()).isEqualTo(account.getMetadata().getNamespace());
    });
    assertThat(role.getRules()).singleElement().satisfies(rule -> {
      assertThat(rule.getApiGroups()).containsExactly("");
      assertThat(rule.getResources()).containsExactly("nodes/checkpoint");
      assertThat(rule.getVerbs()).containsExactly("create");
      assertThat(rule.getResourceNames()).isNullOrEmpty();
    });

    PodSpec pod = one(items, DaemonSet.class).getSpec().getTemplate().getSpec();
    Container agent = pod.getContainers().get(0);
    assertThat(agent.getArgs()).contains("--kubelet-url=https://$(NODE_IP):10250",
        "--kubelet-checkpoint-dir=/var/lib/kubelet/checkpoints");
    assertThat(agent.getEnv()).anySatisfy(env -> {
      assertThat(env.getName()).isEqualTo("NODE_IP");
      assertThat(env.getValueFrom().getFieldRef().getFieldPath()).isEqualTo("status.hostIP");
    });
    String tokenFile = agent.getArgs().stream().filter(arg -> arg.startsWith("--kubelet-token-file="))
        .findFirst().orElseThrow().substring("--kubelet-token-file=".length());
    assertThat(agent.getVolumeMounts()).anySatisfy(mount -> {
      assertThat(tokenFile).startsWith(mount.getMountPath() + "/");
      assertThat(pod.getVolumes()).anySatisfy(volume -> {
        assertThat(volume.getName()).isEqualTo(mount.getName());
        assertThat(volume.getProjected().getSources()).anySatisfy(source ->
            assertThat(source.getServiceAccountToken().getPath()).isEqualTo(Path.of(tokenFile).getFileName()
                .toString()));
      });
    });
    Set<String> hostPaths = pod.getVolumes().stream().filter(v -> v.getHostPath() != null)
        .map(v -> v.getHostPath().getPath()).collect(Collectors.toSet());
    assertThat(hostPaths).contains("/var/lib/kubelet/checkpoints", "/var/lib/containers/storage");
  }

  @Test
  void theCoordinatorDeploymentAndServiceMatchTheCode() {
    List<HasMetadata> items = load("coordinator.yml");
    Deployment deployment = one(items, Deployment.class);
    Map<String, String> labels = deployment.getSpec().getTemplate().getMetadata().getLabels();
    assertThat(labels).containsAllEntriesOf(deployment.getSpec().getSelector().getMatchLabels());
    Container coordinator = deployment.getSpec().getTemplate().getSpec().getContainers().get(0);
    assertThat(ports(coordinator)).containsEntry("http", Defaults.COORDINATOR_PORT);
    assertThat(coordinator.getArgs()).contains("--kubernetes", "--port=" + Defaults.COORDINATOR_PORT,
        "--agent-namespace=" + KubernetesCluster.DEFAULT_AGENT_NAMESPACE);
    assertThat(coordinator.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/healthcheck");

    Service service = one(items, Service.class);
    assertThat(labels).containsAllEntriesOf(service.getSpec().getSelector());
    assertThat(service.getSpec().getPorts()).singleElement().satisfies(port -> {
      assertThat(port.getTargetPort().getStrVal()).isEqualTo("http");
      assertThat(port.getPort()).isEqualTo(Defaults.COORDINATOR_PORT);
    });
    ServiceAccount account = one(items, ServiceAccount.class);
    assertThat(deployment.getSpec().getTemplate().getSpec().getServiceAccountName())
        .isEqualTo(account.getMetadata().getName());
  }

  /** The coordinator's JVM is bounded the same way by ./ums and by the manifest, and the pod's limit covers it. */
  @Test
  void theCoordinatorsHeapIsSetAndItsMemoryLimitCoversIt() throws IOException {
    Container coordinator = one(load("coordinator.yml"), Deployment.class).getSpec().getTemplate().getSpec()
        .getContainers().get(0);
    String options = coordinator.getEnv().stream().filter(e -> e.getName().equals("JAVA_TOOL_OPTIONS"))
        .findFirst().orElseThrow().getValue();
    long mib = 0;
    for (String flag : List.of("-Xmx", "-XX:MaxMetaspaceSize=", "-XX:ReservedCodeCacheSize=",
        "-XX:MaxDirectMemorySize=")) {
      java.util.regex.Matcher size = java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(flag) + "(\\d+)m")
          .matcher(options);
      assertThat(size.find()).as(flag + " in " + options).isTrue();
      mib += Long.parseLong(size.group(1));
    }
    long limitMib = coordinator.getResources().getLimits().get("memory").getNumericalAmount().longValue() >> 20;
    assertThat(limitMib).as("limit vs heap + metaspace + code + direct + 64 MiB").isGreaterThanOrEqualTo(mib + 64);
    String launcher = Files.readString(DEPLOY.getParent().resolve("ums"));
    assertThat(launcher).contains("COORDINATOR_JAVA_OPTS=${COORDINATOR_JAVA_OPTS:-\"" + options + "\"}");
  }

  @Test
  void rbacGrantsExactlyTheCallsTheCoordinatorMakes() {
    List<HasMetadata> items = load("coordinator.yml");
    ClusterRole role = one(items, ClusterRole.class);
    ClusterRoleBinding binding = one(items, ClusterRoleBinding.class);
    ServiceAccount account = one(items, ServiceAccount.class);
    assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
    assertThat(binding.getSubjects()).singleElement().satisfies(subject -> {
      assertThat(subject.getKind()).isEqualTo("ServiceAccount");
      assertThat(subject.getName()).isEqualTo(account.getMetadata().getName());
      assertThat(subject.getNamespace()).isEqualTo(account.getMetadata().getNamespace());
    });

    Set<String> granted = new HashSet<>();
    role.getRules().forEach(rule -> rule.getApiGroups().forEach(group -> rule.getResources().forEach(resource ->
        rule.getVerbs().forEach(verb -> granted.add(group + "/" + resource + ":" + verb)))));
    Set<String> used = Arrays.stream(KubePermission.values())
        .map(p -> p.apiGroup() + "/" + p.resource() + ":" + p.verb()).collect(Collectors.toSet());
    assertThat(granted).as("no wildcard, no verb the code does not use").doesNotContain("*").isEqualTo(used);
  }

  @Test
  void dockerfilesShipWhatTheAgentAndCoordinatorNeed() throws IOException {
    String agent = Files.readString(DEPLOY.resolve("Dockerfile.agent"));
    assertThat(agent).contains("runc", "iptables", "criu", "skopeo", "agent/target/ums-agent-all.jar")
        .contains("EXPOSE " + Defaults.AGENT_CONTROL_PORT + " " + Defaults.AGENT_DATA_PORT)
        .contains("4.2");
    String coordinator = Files.readString(DEPLOY.resolve("Dockerfile.coordinator"));
    assertThat(coordinator).contains("coordinator/target/ums-coordinator-all.jar")
        .contains("EXPOSE " + Defaults.COORDINATOR_PORT);
  }

  @Test
  void theTokenFilesAreMountedFromTheSecretWhereTheFlagsPoint() {
    PodSpec agentPod = one(load("daemonset.yml"), DaemonSet.class).getSpec().getTemplate().getSpec();
    PodSpec coordinatorPod = one(load("coordinator.yml"), Deployment.class).getSpec().getTemplate().getSpec();

    assertThat(secretKeyBehind(agentPod, "--control-token-file")).isEqualTo("control-token");
    assertThat(secretKeyBehind(coordinatorPod, "--agent-token-file")).as("the agents' token")
        .isEqualTo("control-token");
    assertThat(secretKeyBehind(coordinatorPod, "--peer-token-file")).isEqualTo("peer-token");
    assertThat(secretKeyBehind(coordinatorPod, "--api-token-file")).isEqualTo("api-token");
    // the agents see their own token only, not the coordinator's peer and API tokens
    assertThat(agentPod.getVolumes()).filteredOn(volume -> volume.getSecret() != null)
        .flatExtracting(volume -> volume.getSecret().getItems()).extracting(item -> item.getKey())
        .containsExactly("control-token");
    // the coordinator runs as a non-root user: it can read the files through its group
    assertThat(coordinatorPod.getSecurityContext().getFsGroup())
        .isEqualTo(coordinatorPod.getSecurityContext().getRunAsUser());
    // token values never live in the repository: the operator creates the Secret (see coordinator.yml)
    assertThat(Stream.of("daemonset.yml", "coordinator.yml").flatMap(file -> load(file).stream()))
        .extracting(HasMetadata::getKind).doesNotContain("Secret");
  }

  /** The key of Secret ums-tokens that ends up in the file the container's {@code flag=} names. */
  private static String secretKeyBehind(PodSpec pod, String flag) {
    Container container = pod.getContainers().get(0);
    Path file = Path.of(container.getArgs().stream().filter(arg -> arg.startsWith(flag + "="))
        .findFirst().orElseThrow(() -> new AssertionError(flag + " missing")).substring(flag.length() + 1));
    var mount = container.getVolumeMounts().stream()
        .filter(m -> file.getParent().equals(Path.of(m.getMountPath()))).findFirst()
        .orElseThrow(() -> new AssertionError("nothing mounted at " + file.getParent() + " for " + flag));
    assertThat(mount.getReadOnly()).as(flag + " mount read-only").isTrue();
    var secret = pod.getVolumes().stream().filter(v -> v.getName().equals(mount.getName())).findFirst()
        .orElseThrow().getSecret();
    assertThat(secret).as(mount.getName() + " is a Secret volume").isNotNull();
    assertThat(secret.getSecretName()).isEqualTo("ums-tokens");
    assertThat(secret.getDefaultMode()).as("not world-readable").isIn(0400, 0440);
    return secret.getItems().stream().filter(item -> item.getPath().equals(file.getFileName().toString()))
        .findFirst().orElseThrow(() -> new AssertionError(file + " is not an item of " + mount.getName()))
        .getKey();
  }

  private static Map<String, Integer> ports(Container container) {
    return container.getPorts().stream().collect(Collectors.toMap(ContainerPort::getName, ContainerPort::getContainerPort));
  }
}
