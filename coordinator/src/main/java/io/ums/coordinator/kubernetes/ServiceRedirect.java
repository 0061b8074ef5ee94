package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.ums.coordinator.cluster.MigrationKeys;
import io.vertx.core.Future;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Redirect inside a cluster: every Service whose selector picked the source pod gets the
 * destination pod's instance label added to its selector, so it selects exactly the new pod
 * (the source may still run when keep=true). Selector keys the destination pod withholds from
 * its owner (see {@link PodOwner}) are dropped from the selector, or it would select nothing.
 */
final class ServiceRedirect {
  private final KubernetesClient client;
  private final KubeCalls kube;

  ServiceRedirect(KubernetesClient client, KubeCalls kube) {
    this.client = client;
    this.kube = kube;
  }

  /** Answers the names of the Services switched. */
  Future<List<String>> pointAt(
      String namespace, Map<String, String> sourceLabels, Set<String> withheldKeys, String destinationPod) {
    return kube.call(KubePermission.SERVICES_LIST, "list services", () ->
            client.services().inNamespace(namespace).list().getItems().stream()
                .filter(service -> selects(service, sourceLabels))
                .map(service -> service.getMetadata().getName())
                .toList())
        .compose(names -> kube.call(KubePermission.SERVICES_PATCH, "switch services " + names, () -> {
          for (String name : names) {
            client.services().inNamespace(namespace).withName(name).edit(service -> {
              Map<String, String> selector = new HashMap<>(service.getSpec().getSelector());
              selector.keySet().removeAll(withheldKeys);
              selector.put(MigrationKeys.LABEL_INSTANCE, destinationPod);
              service.getSpec().setSelector(selector);
              return service;
            });
          }
          return names;
        }));
  }

  private static boolean selects(Service service, Map<String, String> podLabels) {
    Map<String, String> selector = service.getSpec() == null ? null : service.getSpec().getSelector();
    if (selector == null || selector.isEmpty()) {
      return false;
    }
    return selector.entrySet().stream()
        .allMatch(e -> e.getKey().equals(MigrationKeys.LABEL_INSTANCE) || e.getValue().equals(podLabels.get(e.getKey())));
  }
}
