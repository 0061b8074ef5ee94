package io.ums.agent.workload;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Starts a process workload as the init of its own PID namespace ({@code unshare --pid --fork}, no
 * {@code --mount-proc}, no new mount namespace: see criu-install.md), its stdout and stderr on the pipe of
 * a fresh {@link OutputRelay}, stdin on /dev/null, working directory "/" (a directory that exists on every
 * destination, since CRIU restores the cwd). {@code unshare} runs in a session of its own, so the agent's
 * death or its process group's signals never reach the workload. Blocking: call it on a worker.
 */
final class ProcessLauncher {
  private static final long FIND_INIT_TIMEOUT_MILLIS = 5_000;

  /**
   * The started workload: {@code unshare} (the agent's child), the namespace init it forked (empty when
   * the workload ended before its PID could be read: a command that exits at once), the relay.
   */
  record Launched(Process unshare, Optional<ProcessIdentity> init, OutputRelay relay) {}

  private ProcessLauncher() {}

  static Launched launch(WorkloadSpec spec, Path logFile) throws IOException {
    checkExecutable(spec.command().get(0));
    OutputRelay relay = OutputRelay.start(logFile);
    try {
      // The inner setsid makes the namespace init lead its own session and process group: CRIU refuses a
      // tree whose session leader is outside its PID namespace.
      List<String> command = new ArrayList<>(List.of("setsid", "unshare", "--pid", "--fork", "--", "setsid",
          "--"));
      command.addAll(spec.command());
      ProcessBuilder builder = new ProcessBuilder(command)
          .directory(new File("/"))
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
          .redirectOutput(ProcessBuilder.Redirect.appendTo(relay.writeEnd().toFile()))
          .redirectErrorStream(true);
      builder.environment().putAll(spec.env());
      Process unshare = builder.start();
      relay.releaseAgentWriter();
      return new Launched(unshare, findNamespaceInit(unshare), relay);
    } catch (IOException | RuntimeException e) {
      relay.close();
      throw e;
    }
  }

  private static void checkExecutable(String program) {
    if (program.contains("/")) {
      if (!Files.isRegularFile(Path.of(program)) || !Files.isExecutable(Path.of(program))) {
        throw new InvalidWorkloadSpecException("command[0]", program + " is not an executable file");
      }
      return;
    }
    String path = Optional.ofNullable(System.getenv("PATH")).orElse("/usr/local/bin:/usr/bin:/bin");
    for (String dir : path.split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) {
        return;
      }
    }
    throw new InvalidWorkloadSpecException("command[0]", program + " is not on the agent's PATH");
  }

  // unshare forks the init right after start; its PID shows up in unshare's children list.
  private static Optional<ProcessIdentity> findNamespaceInit(Process unshare) throws IOException {
    Path children = Path.of("/proc", Long.toString(unshare.pid()), "task", Long.toString(unshare.pid()),
        "children");
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FIND_INIT_TIMEOUT_MILLIS);
    while (System.nanoTime() < deadline) {
      Optional<ProcessIdentity> init = firstChild(children);
      if (init.isPresent()) {
        return init;
      }
      if (!unshare.isAlive()) {
        return Optional.empty();
      }
      try {
        Thread.sleep(2);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while starting the workload", e);
      }
    }
    unshare.destroyForcibly();
    throw new IOException("unshare (pid " + unshare.pid() + ") forked no namespace init within "
        + FIND_INIT_TIMEOUT_MILLIS + " ms");
  }

  private static Optional<ProcessIdentity> firstChild(Path children) {
    try {
      String text = Files.readString(children).trim();
      if (text.isEmpty()) {
        return Optional.empty();
      }
      return ProcessIdentity.of(Long.parseLong(text.split(" ")[0]));
    } catch (IOException e) {
      return Optional.empty();
    }
  }
}
