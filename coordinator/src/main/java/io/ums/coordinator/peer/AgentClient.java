package io.ums.coordinator.peer;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;

/** The agent's control API (agent-api.md), one agent. The coordinator never sees checkpoint bytes. */
public final class AgentClient {
  private final PeerClient http;
  private final String node;
  private final String baseUrl;

  public AgentClient(PeerClient http, String node, String baseUrl) {
    this.http = http.toAgents();
    this.node = node;
    this.baseUrl = http.credentials().agentUrl(baseUrl);
  }

  public String node() {
    return node;
  }

  public String baseUrl() {
    return baseUrl;
  }

  private String peer() {
    return "agent " + node;
  }

  public Future<JsonObject> info() {
    return http.getObject(peer(), baseUrl + "/v1/info");
  }

  public Future<JsonObject> health() {
    return http.getObject(peer(), baseUrl + "/health");
  }

  public Future<JsonArray> workloads() {
    return http.getArray(peer(), baseUrl + "/v1/workloads");
  }

  /** One workload, with its resident memory ({@code rssBytes}). */
  public Future<JsonObject> workload(String id) {
    return http.getObject(peer(), baseUrl + "/v1/workloads/" + id);
  }

  /**
   * Opens a receive session: {sessionId, dataAddress, token, expiresAt}; {@code encrypt}: the agent refuses
   * a source that connects without TLS.
   */
  public Future<JsonObject> receive(String workloadName, String kind, String mode, boolean encrypt) {
    return http.post(
        peer(),
        baseUrl + "/v1/receive",
        new JsonObject().put("workloadName", workloadName).put("kind", kind).put("mode", mode)
            .put("encrypt", encrypt));
  }

  /** Starts checkpoint + stream on the source; answers {migrationId}. */
  public Future<JsonObject> send(String workloadId, JsonObject destination, boolean keep, String mode) {
    return http.post(
        peer(),
        baseUrl + "/v1/send",
        new JsonObject().put("workloadId", workloadId).put("destination", destination).put("keep", keep)
            .put("mode", mode));
  }

  /**
   * Orchestrator level: the agent asks its kubelet to checkpoint one container of a pod and streams
   * the archive to the destination session; the kubelet leaves the container running.
   */
  public Future<JsonObject> sendKubeletCheckpoint(
      String namespace, String pod, String container, JsonObject how, JsonObject destination, boolean keep) {
    JsonObject kubelet = how.copy().put("namespace", namespace).put("pod", pod).put("container", container);
    return http.post(
        peer(),
        baseUrl + "/v1/send",
        new JsonObject().put("kubelet", kubelet).put("destination", destination).put("keep", keep));
  }

  public Future<JsonObject> migration(String id) {
    return http.getObject(peer(), baseUrl + "/v1/migrations/" + id);
  }

  /** The migration's status, answered within {@code timeout} or failed (PEER_FAILED; NOT_FOUND: unknown id). */
  public Future<JsonObject> migration(String id, Duration timeout) {
    return http.getObject(peer(), baseUrl + "/v1/migrations/" + id, timeout);
  }

  public Future<JsonObject> workload(String id, Duration timeout) {
    return http.getObject(peer(), baseUrl + "/v1/workloads/" + id, timeout);
  }

  /**
   * Settles a source the agent keeps stopped for a migration it lost track of (it was killed mid-migration):
   * {@code kill} when the destination restored the workload, else resume it. NOT_FOUND: it holds none.
   */
  public Future<JsonObject> settleStoppedSource(String migrationId, boolean kill, Duration timeout) {
    return http.post(peer(), baseUrl + "/v1/stopped-sources/" + migrationId + (kill ? "/kill" : "/resume"),
        new JsonObject(), timeout);
  }

  /**
   * kubelet-consistent: the source container the agent keeps stopped since its checkpoint is killed ({@code kill})
   * or resumed; NOT_FOUND when the agent holds no such container (never stopped, or settled already).
   */
  public Future<JsonObject> settleStopped(String containerId, boolean kill) {
    return http.post(peer(), baseUrl + "/v1/stopped-containers/" + containerId + (kill ? "/kill" : "/resume"),
        new JsonObject());
  }

  /**
   * kubelet-consistent, before the source pod's deletion: the stopped source container never runs again (the
   * agent records it; no resume, no hold expiry). NOT_FOUND when the agent holds no such container.
   */
  public Future<JsonObject> commitStopped(String containerId) {
    return http.post(peer(), baseUrl + "/v1/stopped-containers/" + containerId + "/commit", new JsonObject());
  }

  /**
   * The pod restored from the checkpoint image {@code image} is Ready: the agent points the image's name at the
   * image the checkpoint was taken from (a restart starts afresh) and lets its node's containerd drop the
   * checkpoint. Answers {"image", "startsFrom"?, "removed"}.
   */
  public Future<JsonObject> retireCheckpointImage(String image) {
    return http.post(peer(), baseUrl + "/v1/checkpoint-images/retire", new JsonObject().put("image", image));
  }

  /** No pod starts from the checkpoint image {@code image}: the agent removes it (answers {"image", "removed"}). */
  public Future<JsonObject> discardCheckpointImage(String image) {
    return http.post(peer(), baseUrl + "/v1/checkpoint-images/discard", new JsonObject().put("image", image));
  }

  public Future<JsonObject> abort(String id) {
    return http.post(peer(), baseUrl + "/v1/migrations/" + id + "/abort", new JsonObject());
  }
}
