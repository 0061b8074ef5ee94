package io.ums.coordinator.migration;

import io.ums.coordinator.error.Failure;
import io.ums.coordinator.error.MigrationException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * Can the destination cluster (its GET / description) take a workload from this source agent
 * (its GET /v1/info)? At least one destination agent must be ready with the same CPU architecture
 * and a usable CRIU of at least {@link #MIN_CRIU}. A different kernel is reported but allowed:
 * CRIU restores across kernels that have the features the images use.
 */
final class Compatibility {
  static final String MIN_CRIU = "4.2";

  private Compatibility() {}

  /** The source agent can do what the approach needs (NOT_MIGRATABLE otherwise). */
  static void checkSource(JsonObject sourceInfo, Approach approach, String node) {
    if (approach.viaKubelet()
        && !sourceInfo.getJsonObject("kubelet", new JsonObject()).getBoolean("configured", false)) {
      throw new MigrationException(Failure.NOT_MIGRATABLE, "interface kubelet: the agent on node " + node
          + " has no kubelet configured (start it with --kubelet-url and a token allowed nodes/checkpoint)");
    }
  }

  /** Throws INCOMPATIBLE_DESTINATION / NO_DESTINATION; returns warnings worth showing. */
  static List<String> check(JsonObject sourceInfo, JsonObject destination, Approach approach) {
    if (approach.viaKubelet() && !"kubernetes".equals(destination.getString("mode"))) {
      throw new MigrationException(
          Failure.INCOMPATIBLE_DESTINATION,
          "interface kubelet needs a Kubernetes destination, the destination runs in "
              + destination.getString("mode")
              + " mode");
    }
    JsonArray agents = destination.getJsonArray("agents", new JsonArray());
    if (agents.isEmpty()) {
      throw new MigrationException(Failure.NO_DESTINATION, "the destination cluster has no agents");
    }
    String arch = sourceInfo.getString("arch");
    List<String> reasons = new ArrayList<>();
    List<String> warnings = new ArrayList<>();
    boolean anyFits = false;
    for (Object entry : agents) {
      JsonObject agent = (JsonObject) entry;
      String node = agent.getString("node");
      String why = unfit(agent, arch);
      if (why == null) {
        anyFits = true;
        String kernel = agent.getString("kernel");
        if (kernel != null && !kernel.equals(sourceInfo.getString("kernel"))) {
          warnings.add("node " + node + " runs kernel " + kernel + ", the source " + sourceInfo.getString("kernel"));
        }
      } else {
        reasons.add(node + ": " + why);
      }
    }
    if (!anyFits) {
      throw new MigrationException(
          Failure.INCOMPATIBLE_DESTINATION,
          "no destination node can restore this workload (" + String.join("; ", reasons) + ")");
    }
    return warnings;
  }

  /** Why this destination agent cannot restore a workload checkpointed on {@code arch}, or null. */
  static String unfit(JsonObject agent, String arch) {
    if (!agent.getBoolean("ready", false)) {
      return "agent not ready" + (agent.containsKey("problem") ? " (" + agent.getString("problem") + ")" : "");
    }
    if (arch != null && !arch.equals(agent.getString("arch"))) {
      return "architecture " + agent.getString("arch") + ", the source is " + arch;
    }
    JsonObject criu = agent.getJsonObject("criu", new JsonObject());
    if (!criu.getBoolean("ok", false)) {
      return "CRIU not usable";
    }
    if (compareVersions(criu.getString("version", "0"), MIN_CRIU) < 0) {
      return "CRIU " + criu.getString("version") + " is older than " + MIN_CRIU;
    }
    return null;
  }

  static int compareVersions(String a, String b) {
    String[] left = a.split("[.\\-]");
    String[] right = b.split("[.\\-]");
    for (int i = 0; i < Math.max(left.length, right.length); i++) {
      int l = i < left.length ? leadingNumber(left[i]) : 0;
      int r = i < right.length ? leadingNumber(right[i]) : 0;
      if (l != r) {
        return Integer.compare(l, r);
      }
    }
    return 0;
  }

  private static int leadingNumber(String part) {
    int end = 0;
    while (end < part.length() && Character.isDigit(part.charAt(end))) {
      end++;
    }
    return end == 0 ? 0 : Integer.parseInt(part.substring(0, end));
  }
}
