package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.ums.coordinator.config.Defaults;
import io.ums.coordinator.testing.FakeAgent;
import java.util.Arrays;
import java.util.Map;

/**
 * What the tests put into fabric8's mock API server (CRUD mode; the real API server's tests are
 * ApiServerMigrationTest): agent pods of the DaemonSet pointing at {@link FakeAgent}s, and
 * the status changes a kubelet would report.
 */
final class MockCluster {
  static final String AGENTS = KubernetesCluster.DEFAULT_AGENT_NAMESPACE;

  private MockCluster() {}

  /** An agent pod on {@code node} whose "control" port is the fake agent's. */
  static void agentPod(KubernetesClient client, String name, String node, FakeAgent agent) {
    client.pods().inNamespace(AGENTS).resource(new PodBuilder()
        .withNewMetadata().withName(name).withNamespace(AGENTS)
          .withLabels(Map.of(Defaults.AGENT_LABEL_KEY, Defaults.AGENT_LABEL_VALUE)).endMetadata()
        .withNewSpec().withNodeName(node)
          .addNewContainer().withName("agent").withImage("ums-agent")
            .addNewPort().withName(Defaults.AGENT_CONTROL_PORT_NAME).withContainerPort(agent.port()).endPort()
          .endContainer()
        .endSpec()
        .withNewStatus().withPhase("Running").withPodIP("127.0.0.1").endStatus()
        .build()).create();
  }

  /** A Service in namespace default selecting pods by these labels. */
  static void service(KubernetesClient client, String name, Map<String, String> selector) {
    client.services().inNamespace("default").resource(new ServiceBuilder()
        .withNewMetadata().withName(name).withNamespace("default").endMetadata()
        .withNewSpec().withSelector(selector).addNewPort().withPort(80).endPort().endSpec()
        .build()).create();
  }

  /** Plays the kubelet (and CRI-O's restore) of the pod's node: the pod is Running and Ready. */
  static void kubeletReportsReady(KubernetesClient client, String namespace, String name) {
    client.pods().inNamespace(namespace).withName(name).editStatus(pod -> new PodBuilder(pod)
        .editOrNewStatus().withPhase("Running").withPodIP("10.0.1.7")
          .withConditions(new PodConditionBuilder().withType("Ready").withStatus("True").build())
        .endStatus().build());
  }

  /** Plays the kubelet of a node where the checkpoint image is missing. */
  static void kubeletReportsImageMissing(KubernetesClient client, String namespace, String name, String container) {
    client.pods().inNamespace(namespace).withName(name).editStatus(pod -> new PodBuilder(pod)
        .editOrNewStatus().withPhase("Pending")
          .addNewContainerStatus().withName(container).withReady(false)
            .withNewState().withNewWaiting().withReason("ErrImageNeverPull")
              .withMessage("Container image is not present with pull policy of Never").endWaiting().endState()
          .endContainerStatus()
        .endStatus().build());
  }

  /** The RBAC (API group, resource, verb) of a REST call, as the API server authorizes it. */
  static KubePermission permissionOf(String method, String path) {
    String[] query = path.split("\\?", 2);
    String[] parts = query[0].split("/");
    // /api/v1/namespaces/{ns}/{resource}[/{name}] or /apis/{group}/{version}/namespaces/{ns}/{resource}[/{name}]
    String group = parts[1].equals("api") ? "" : parts[2];
    int namespaces = Arrays.asList(parts).indexOf("namespaces");
    String resource = parts[namespaces + 2];
    boolean named = parts.length > namespaces + 3;
    boolean watch = query.length > 1 && query[1].contains("watch=true");
    String verb = switch (method) {
      case "GET" -> watch ? "watch" : named ? "get" : "list";
      case "POST" -> "create";
      case "PUT" -> "update";
      case "PATCH" -> "patch";
      case "DELETE" -> "delete";
      default -> throw new AssertionError(method + " " + path);
    };
    return Arrays.stream(KubePermission.values())
        .filter(p -> p.apiGroup().equals(group) && p.resource().equals(resource) && p.verb().equals(verb))
        .findFirst()
        .orElseThrow(() -> new AssertionError("undeclared API call " + method + " " + path
            + " (" + group + "/" + resource + ":" + verb + ")"));
  }

  static Pod get(KubernetesClient client, String namespace, String name) {
    return client.pods().inNamespace(namespace).withName(name).get();
  }
}
