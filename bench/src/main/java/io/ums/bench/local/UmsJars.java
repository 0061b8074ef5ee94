package io.ums.bench.local;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Where the built shaded jars are: $UMS_HOME (set by ./ums), else the first parent of the cwd holding them. */
public record UmsJars(Path home) {
  public static UmsJars locate() {
    String env = System.getenv("UMS_HOME");
    if (env != null && !env.isBlank()) {
      return new UmsJars(Path.of(env).toAbsolutePath());
    }
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      if (Files.isDirectory(dir.resolve("agent")) && Files.isDirectory(dir.resolve("coordinator"))) {
        return new UmsJars(dir);
      }
    }
    throw new IllegalStateException("cannot find the UMS checkout: set UMS_HOME or run from inside it");
  }

  public Path agent() {
    return jar("agent");
  }

  public Path coordinator() {
    return jar("coordinator");
  }

  private Path jar(String module) {
    Path jar = home.resolve(module).resolve("target").resolve("ums-" + module + "-all.jar");
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException(jar + " is missing: build it with ./ums setup (or mvn -B package)");
    }
    return jar;
  }

  /**
   * The agent exactly as {@code ./ums agent} runs it (its memory budget: small heap, C1, two malloc
   * arenas), so that bench figures are those of the agent users run.
   */
  public static List<String> agentJavaJar(Path jar) {
    List<String> command = new ArrayList<>(List.of("env"));
    io.ums.agent.dataplane.AgentMemoryBudget.ENVIRONMENT.forEach((key, value) -> command.add(key + "=" + value));
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(io.ums.agent.dataplane.AgentMemoryBudget.JVM_OPTIONS);
    // a data path warm-up size other than the agent's default, when this JVM was given one (a bench option)
    String warmup = System.getProperty(io.ums.agent.DataPathWarmup.MIB_PROPERTY);
    if (warmup != null) {
      command.add("-D" + io.ums.agent.DataPathWarmup.MIB_PROPERTY + "=" + warmup);
    }
    // post-copy read-ahead settings (io.ums.agent.dataplane.PostCopyDestination.ReadAhead), when given to
    // this JVM: the bench compares read-ahead off and on in the same machine state
    System.getProperties().stringPropertyNames().stream().filter(key -> key.startsWith("ums.postcopy."))
        .sorted().forEach(key -> command.add("-D" + key + "=" + System.getProperty(key)));
    // extra agent JVM options for a profiling run (e.g. -XX:NativeMemoryTracking=summary), separated by
    // blanks or semicolons; never by default
    String extra = System.getProperty("ums.bench.agentJvmOptions", "").trim();
    if (!extra.isEmpty()) {
      command.addAll(List.of(extra.split("[;\\s]+")));
    }
    command.add("-jar");
    command.add(jar.toString());
    return command;
  }

  /**
   * The coordinator exactly as {@code ./ums coordinator} runs it (its bounded heap, C1, two malloc arenas),
   * so that the bench's coordinator is the one users run.
   */
  public static List<String> coordinatorJavaJar(Path jar) {
    List<String> command = new ArrayList<>(List.of("env"));
    io.ums.coordinator.config.Defaults.COORDINATOR_ENVIRONMENT.forEach((key, value) -> command.add(key + "=" + value));
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-XX:+UseSerialGC");
    command.add("-Xss512k");
    command.addAll(io.ums.coordinator.config.Defaults.COORDINATOR_JVM_OPTIONS);
    command.add("-jar");
    command.add(jar.toString());
    return command;
  }
}
