package io.ums.agent.migration;

import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Optional;

/**
 * POST /v1/send's {@code kubelet} object: the pod's container, its runtime id (from the pod's status: how this
 * agent finds its processes), and how it moves: {@code consistent} (interface kubelet-consistent: the container
 * stays stopped from its checkpoint until the switch, {@code holdMs} at most once the destination holds the
 * checkpoint) or a copy (interface kubelet-copy: it runs on right after its checkpoint).
 */
record KubeletSend(KubeletTarget target, Optional<String> containerId, boolean consistent, Duration hold) {
  static final String CONSISTENT = "consistent";
  static final String COPY = "copy";
  static final Duration DEFAULT_HOLD = Duration.ofMinutes(10);

  static KubeletSend fromJson(JsonObject kubelet) {
    String id = kubelet.getString("containerId");
    if (id != null && id.contains("://")) {
      id = id.substring(id.indexOf("://") + 3); // the pod status's form: containerd://<id>
    }
    return new KubeletSend(KubeletTarget.fromJson(kubelet), Optional.ofNullable(id),
        CONSISTENT.equals(kubelet.getString("mode", COPY)),
        Duration.ofMillis(kubelet.getLong("holdMs", DEFAULT_HOLD.toMillis())));
  }
}
