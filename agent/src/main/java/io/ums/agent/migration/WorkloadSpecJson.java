package io.ums.agent.migration;

import io.ums.agent.workload.WorkloadSpec;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A workload spec as it travels in the restore manifest. */
final class WorkloadSpecJson {
  private WorkloadSpecJson() {}

  static JsonObject encode(WorkloadSpec spec) {
    JsonObject json = new JsonObject()
        .put("name", spec.name())
        .put("kind", spec.kind())
        .put("runtime", spec.runtime())
        .put("image", spec.image())
        .put("command", new JsonArray(spec.command()))
        .put("env", new JsonObject(new HashMap<>(spec.env())));
    spec.user().ifPresent(user -> json.put("user", user));
    return json;
  }

  static WorkloadSpec decode(JsonObject json) {
    List<String> command = json.getJsonArray("command", new JsonArray()).stream().map(String::valueOf).toList();
    Map<String, String> env = new HashMap<>();
    json.getJsonObject("env", new JsonObject()).forEach(entry -> env.put(entry.getKey(), String.valueOf(entry.getValue())));
    return new WorkloadSpec(json.getString("name"), json.getString("kind", WorkloadSpec.KIND_PROCESS),
        json.getString("runtime"), json.getString("image"), command, env,
        java.util.Optional.ofNullable(json.getString("user")));
  }
}
