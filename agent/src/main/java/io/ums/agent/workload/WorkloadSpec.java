package io.ums.agent.workload;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What to run: a process tree (kind "process") or a container (kind "container", runtime "runc" or
 * "podman", from an image in the agent's store). Travels with a migration so the destination can register
 * the restored workload under the same spec. {@code user} (a process only): the user name or numeric
 * {@code uid[:gid]} the program runs as, inside a user namespace of its own ({@link ProcessLauncher}).
 */
public record WorkloadSpec(String name, String kind, String runtime, String image, List<String> command,
                           Map<String, String> env, Optional<String> user) {
  public static final String KIND_PROCESS = "process";
  public static final String KIND_CONTAINER = "container";

  public WorkloadSpec {
    command = List.copyOf(command);
    env = Map.copyOf(env);
    user = user == null ? Optional.empty() : user;
  }

  /** A spec whose program runs as the agent's own user. */
  public WorkloadSpec(String name, String kind, String runtime, String image, List<String> command,
      Map<String, String> env) {
    this(name, kind, runtime, image, command, env, Optional.empty());
  }
}
