package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.ums.coordinator.cluster.SourceWorkload;
import io.vertx.core.Future;
import java.time.Instant;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Kubernetes Events on the migrated pod, so `kubectl describe pod` tells the story. Best effort. */
final class MigrationEvents {
  static final String COMPONENT = "ums-coordinator";
  private static final Logger LOG = LoggerFactory.getLogger(MigrationEvents.class);

  private final KubernetesClient client;
  private final KubeCalls kube;

  MigrationEvents(KubernetesClient client, KubeCalls kube) {
    this.client = client;
    this.kube = kube;
  }

  Future<Void> record(SourceWorkload workload, String reason, String type, String message) {
    return record(workload.namespace(), workload.name(), reason, type, message);
  }

  /** An Event on pod namespace/name. */
  Future<Void> record(String namespace, String pod, String reason, String type, String message) {
    String now = Instant.now().toString();
    Event event = new EventBuilder()
        .withNewMetadata()
          .withName(pod + "." + UUID.randomUUID().toString().replace("-", "").substring(0, 16))
          .withNamespace(namespace)
        .endMetadata()
        .withNewInvolvedObject()
          .withApiVersion("v1").withKind("Pod").withName(pod).withNamespace(namespace)
        .endInvolvedObject()
        .withReason(reason)
        .withType(type)
        .withMessage(message)
        .withNewSource().withComponent(COMPONENT).endSource()
        .withFirstTimestamp(now)
        .withLastTimestamp(now)
        .withCount(1)
        .build();
    return kube.call(KubePermission.EVENTS_CREATE, "create event", () ->
            client.v1().events().inNamespace(namespace).resource(event).create())
        .<Void>mapEmpty()
        .recover(failure -> {
          LOG.warn("event {} on {} not recorded: {}", reason, namespace + "/" + pod, failure.getMessage());
          return Future.succeededFuture();
        });
  }
}
