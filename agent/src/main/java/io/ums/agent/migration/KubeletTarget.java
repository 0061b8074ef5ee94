package io.ums.agent.migration;

import io.vertx.core.json.JsonObject;

/** A container of a pod, as the kubelet names it. */
record KubeletTarget(String namespace, String pod, String container) {
  static KubeletTarget fromJson(JsonObject json) {
    return new KubeletTarget(json.getString("namespace"), json.getString("pod"), json.getString("container"));
  }

  JsonObject toJson() {
    return new JsonObject().put("namespace", namespace).put("pod", pod).put("container", container);
  }

  @Override
  public String toString() {
    return namespace + "/" + pod + "/" + container;
  }
}
