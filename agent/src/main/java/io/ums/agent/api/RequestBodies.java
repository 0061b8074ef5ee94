package io.ums.agent.api;

import io.ums.agent.error.AgentException;
import io.ums.agent.migration.CriuMigrations;
import io.ums.agent.migration.MigrationMode;
import io.ums.agent.workload.WorkloadSpec;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/** Validation of every request body of the control API: the first problem found answers 400 naming it. */
final class RequestBodies {
  static final Set<String> KINDS = Set.of(WorkloadSpec.KIND_PROCESS, WorkloadSpec.KIND_CONTAINER);
  static final Set<String> RUNTIMES = Set.of("runc", "podman");
  /** What a receive session takes: a process tree, a container, or a kubelet checkpoint archive. */
  static final Set<String> RECEIVE_KINDS = Set.of(WorkloadSpec.KIND_PROCESS, WorkloadSpec.KIND_CONTAINER,
      CriuMigrations.KIND_CHECKPOINT);
  /** How memory moves: {@code stop-and-copy} (the default) or {@code post-copy} (process trees, runc containers). */
  static final Set<String> MODES = Set.copyOf(MigrationMode.wireNames());
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,252}");
  /** A user name as useradd takes it, or uid[:gid]; whether it exists is the launcher's question. */
  private static final Pattern USER = Pattern.compile("[A-Za-z_][A-Za-z0-9._-]{0,31}\\$?|[0-9]{1,10}(:[0-9]{1,10})?");
  private static final Pattern HOST_PORT = Pattern.compile("(\\[[0-9a-fA-F:.]+]|[^:\\s\\[\\]]+):(\\d{1,5})");
  private static final int MAX_ARGUMENTS = 4096;
  /** A runtime's container id (containerd: 64 hex digits), optionally as the pod status writes it. */
  static final Pattern CONTAINER_ID = Pattern.compile("([a-z0-9-]+://)?([A-Za-z0-9][A-Za-z0-9_.-]{0,127})");
  /** How a kubelet checkpoint moves a container: held stopped to the switch, or copied while it runs on. */
  static final Set<String> KUBELET_MODES = Set.of("consistent", "copy");

  private RequestBodies() {}

  static JsonObject jsonObject(RoutingContext context) {
    Buffer body = context.body().buffer();
    if (body == null || body.length() == 0) {
      throw AgentException.badField("body", "required, a JSON object");
    }
    Object parsed;
    try {
      parsed = io.vertx.core.json.Json.decodeValue(body);
    } catch (DecodeException e) {
      throw AgentException.badField("body", "not valid JSON");
    }
    if (!(parsed instanceof JsonObject object)) {
      throw AgentException.badField("body", "must be a JSON object");
    }
    return object;
  }

  /** POST /v1/workloads. */
  static WorkloadSpec workloadSpec(JsonObject body) {
    JsonFields fields = JsonFields.of(body);
    String name = fields.requiredString("name");
    if (!NAME.matcher(name).matches()) {
      throw AgentException.badField("name", "letters, digits, '.', '_' and '-' only, at most 253, got \""
          + name + "\"");
    }
    List<String> command = fields.requiredCommand("command");
    if (command.size() > MAX_ARGUMENTS) {
      throw AgentException.badField("command", "at most " + MAX_ARGUMENTS + " elements");
    }
    String kind = fields.optionalOneOf("kind", KINDS, WorkloadSpec.KIND_PROCESS);
    String runtime = fields.optionalOneOf("runtime", RUNTIMES, null);
    String image = fields.optionalString("image");
    if (kind.equals(WorkloadSpec.KIND_CONTAINER)) {
      if (runtime == null) {
        throw AgentException.badField("runtime", "required for a container, one of " + RUNTIMES);
      }
      if (image == null) {
        throw AgentException.badField("image", "required for a container, a non-empty string");
      }
    }
    String user = fields.optionalString("user");
    if (user != null) {
      if (!kind.equals(WorkloadSpec.KIND_PROCESS)) {
        throw AgentException.badField("user", "only for a process workload (kind \"process\")");
      }
      if (!USER.matcher(user).matches()) {
        throw AgentException.badField("user", "a user name or a numeric uid[:gid], got \"" + user + "\"");
      }
    }
    return new WorkloadSpec(name, kind, runtime, image, command, fields.optionalStringMap("env"),
        java.util.Optional.ofNullable(user));
  }

  /** POST /v1/receive: the body with its defaults filled in. */
  static JsonObject receiveRequest(JsonObject body) {
    JsonFields fields = JsonFields.of(body);
    JsonObject request = body.copy();
    String workloadName = fields.optionalString("workloadName");
    if (workloadName != null) {
      request.put("workloadName", workloadName);
    }
    String kind = fields.optionalOneOf("kind", RECEIVE_KINDS, WorkloadSpec.KIND_PROCESS);
    String mode = mode(fields);
    if (MigrationMode.fromWire(mode) == MigrationMode.POST_COPY && !kind.equals(WorkloadSpec.KIND_PROCESS)
        && !kind.equals(WorkloadSpec.KIND_CONTAINER)) {
      throw AgentException.badField("mode", "post-copy moves process trees and runc containers (kind \"process\" or"
          + " \"container\"), got kind \"" + kind + "\"");
    }
    boolean encrypt = fields.optionalBoolean("encrypt", false);
    return request.put("kind", kind).put("mode", mode).put("encrypt", encrypt);
  }

  /**
   * POST /v1/send: the body with its defaults filled in. Either a local workload ({@code workloadId}) or a
   * pod's container checkpointed by the kubelet ({@code kubelet: {namespace, pod, container}}), not both.
   */
  static JsonObject sendRequest(JsonObject body) {
    JsonFields fields = JsonFields.of(body);
    if (body.getValue("kubelet") != null) {
      if (body.getValue("workloadId") != null) {
        throw AgentException.badField("kubelet", "give either workloadId or kubelet, not both");
      }
      JsonFields kubelet = fields.requiredObject("kubelet");
      kubelet.requiredString("namespace");
      kubelet.requiredString("pod");
      kubelet.requiredString("container");
      String kubeletMode = kubelet.optionalOneOf("mode", KUBELET_MODES, "copy");
      String containerId = kubelet.optionalString("containerId");
      if (containerId != null && !CONTAINER_ID.matcher(containerId).matches()) {
        throw AgentException.badField(kubelet.path("containerId"), "not a container id: \"" + containerId + "\"");
      }
      if ("consistent".equals(kubeletMode) && containerId == null) {
        throw AgentException.badField(kubelet.path("containerId"), "mode consistent holds the container by its"
            + " runtime id (the pod status's containerID): required");
      }
      Object hold = body.getJsonObject("kubelet").getValue("holdMs");
      if (hold != null && !(hold instanceof Number number && number.longValue() > 0)) {
        throw AgentException.badField(kubelet.path("holdMs"), "must be a positive number of milliseconds");
      }
    } else {
      fields.requiredString("workloadId");
    }
    JsonFields destination = fields.requiredObject("destination");
    hostPort(destination, "address");
    destination.requiredString("sessionId");
    destination.requiredString("token");
    destination.optionalBoolean("encrypt", false);
    boolean keep = fields.optionalBoolean("keep", false);
    String mode = mode(fields);
    if (MigrationMode.fromWire(mode) == MigrationMode.POST_COPY) {
      if (body.getValue("kubelet") != null) {
        throw AgentException.badField("mode",
            "post-copy moves this agent's processes and runc containers, not kubelet checkpoints");
      }
      if (keep) {
        throw AgentException.badField("mode", "post-copy moves a workload; it cannot keep a running copy (keep)");
      }
    }
    return body.copy().put("keep", keep).put("mode", mode);
  }

  private static String mode(JsonFields fields) {
    return fields.optionalOneOf("mode", MODES, MigrationMode.STOP_AND_COPY.wireName());
  }

  private static void hostPort(JsonFields fields, String field) {
    String value = fields.requiredString(field);
    var matcher = HOST_PORT.matcher(value);
    if (!matcher.matches() || Integer.parseInt(matcher.group(2)) < 1 || Integer.parseInt(matcher.group(2)) > 65535) {
      throw AgentException.badField(fields.path(field), "must be host:port with a port 1-65535, got \"" + value
          + "\"");
    }
  }
}
