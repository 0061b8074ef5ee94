package io.ums.coordinator.kubernetes;

/**
 * Every Kubernetes API call the coordinator makes, as the (API group, resource, verb) RBAC needs.
 * Each call goes through {@link KubeCalls#call} naming one of these, so this list is the complete
 * list; a test checks that deploy/coordinator.yml grants exactly these and nothing more.
 */
public enum KubePermission {
  PODS_GET("", "pods", "get"),
  PODS_LIST("", "pods", "list"),
  /** informers (informOnCondition: waiting for the destination pod to be Ready) list then watch */
  PODS_WATCH("", "pods", "watch"),
  PODS_CREATE("", "pods", "create"),
  PODS_UPDATE("", "pods", "update"),
  PODS_PATCH("", "pods", "patch"),
  PODS_DELETE("", "pods", "delete"),
  /** the selector of a pod's ReplicaSet / ReplicationController, so the destination pod stays out of it */
  REPLICASETS_GET("apps", "replicasets", "get"),
  REPLICATIONCONTROLLERS_GET("", "replicationcontrollers", "get"),
  SERVICES_LIST("", "services", "list"),
  SERVICES_GET("", "services", "get"),
  SERVICES_PATCH("", "services", "patch"),
  EVENTS_CREATE("", "events", "create");

  private final String apiGroup;
  private final String resource;
  private final String verb;

  KubePermission(String apiGroup, String resource, String verb) {
    this.apiGroup = apiGroup;
    this.resource = resource;
    this.verb = verb;
  }

  public String apiGroup() {
    return apiGroup;
  }

  public String resource() {
    return resource;
  }

  public String verb() {
    return verb;
  }
}
