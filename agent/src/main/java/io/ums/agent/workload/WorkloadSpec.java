package io.ums.agent.workload;

import java.util.List;
import java.util.Map;

/**
 * What to run: a process tree (kind "process") or a container (kind "container", runtime "runc" or
 * "podman", from an image in the agent's store). Travels with a migration so the destination can register
 * the restored workload under the same spec.
 */
public record WorkloadSpec(String name, String kind, String runtime, String image, List<String> command,
                           Map<String, String> env) {
  public static final String KIND_PROCESS = "process";
  public static final String KIND_CONTAINER = "container";

  public WorkloadSpec {
    command = List.copyOf(command);
    env = Map.copyOf(env);
  }
}
