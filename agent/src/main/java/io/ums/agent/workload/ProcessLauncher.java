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
 * Starts a process workload as the init of its own PID and IPC namespaces ({@code unshare --pid --ipc
 * --fork}; no {@code --mount-proc}, no new mount namespace: see criu-install.md). Its own IPC namespace is
 * what lets CRIU dump System V shared memory, semaphores and message queues (it refuses IPC objects of the
 * host's namespace: "doesn't live in IPC ns"), and they come back in a fresh one on the destination. Its
 * stdout and stderr go to the pipe of a fresh {@link OutputRelay}, stdin is /dev/null, working directory an
 * empty one of its own ({@link WorkingDirectories}: not "/", where concurrent CRIU dumps collide). {@code unshare} runs in a session of its own, so the agent's
 * death or its process group's signals never reach the workload. It returns once the workload's own program
 * runs (its argv and environment readable in /proc), not while the init is still on its way there. With a
 * {@code user}, the program runs as that user in namespaces of its own: {@link UserNamespaceLaunch}.
 * Blocking: call it on a worker.
 */
final class ProcessLauncher {
  private static final long FIND_INIT_TIMEOUT_MILLIS = 5_000;
  private static final Path PASSWD = Path.of("/etc/passwd");
  private static final java.nio.charset.Charset NATIVE_ENCODING = java.nio.charset.Charset.forName(
      System.getProperty("sun.jnu.encoding", "UTF-8"));

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
      Optional<UserIds> user = spec.user().map(name -> UserIds.resolve(name, PASSWD));
      List<String> command;
      List<List<String>> stages;
      if (user.isPresent()) {
        UserNamespaceLaunch.Plan plan = UserNamespaceLaunch.plan(user.get(), spec.command());
        command = plan.command();
        stages = plan.stages();
      } else {
        // The inner setsid makes the namespace init lead its own session and process group: CRIU refuses a
        // tree whose session leader is outside its PID namespace.
        command = new ArrayList<>(List.of("setsid", "unshare", "--pid", "--ipc", "--fork", "--", "setsid", "--"));
        command.addAll(spec.command());
        stages = List.of(command.subList(1, command.size()), command.subList(command.indexOf("--") + 1,
            command.size()));
      }
      Path workingDirectory = WorkingDirectories.fresh();
      if (user.isPresent()) {
        Files.setAttribute(workingDirectory, "unix:uid", (int) user.get().uid());
        Files.setAttribute(workingDirectory, "unix:gid", (int) user.get().gid());
      }
      ProcessBuilder builder = new ProcessBuilder(command)
          .directory(workingDirectory.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
          .redirectOutput(ProcessBuilder.Redirect.appendTo(relay.writeEnd().toFile()))
          .redirectErrorStream(true);
      builder.environment().putAll(spec.env());
      Process unshare = builder.start();
      relay.releaseAgentWriter();
      Optional<ProcessIdentity> init = user.isPresent() && !UserNamespaceLaunch.mapIds(unshare)
          ? Optional.empty() : findNamespaceInit(unshare);
      if (init.isPresent()) {
        awaitProgram(init.get(), unshare, stages, !builder.environment().isEmpty());
      }
      return new Launched(unshare, init, relay);
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

  /**
   * Waits until the namespace init runs the workload's own program, so that whoever reads its
   * {@code /proc/<pid>/cmdline} or {@code environ} once the launch answers sees the program's. Until then the
   * init still runs {@code unshare} or {@code setsid} (argv {@code stages}), or is inside its last
   * {@code execve}, when the kernel shows an empty argv and environment until the new program's stack is
   * set up. A program that rewrites its own argv still differs from both stages.
   */
  private static void awaitProgram(ProcessIdentity init, Process unshare, List<List<String>> stages,
      boolean hasEnvironment) throws IOException {
    Path proc = Path.of("/proc", Long.toString(init.pid()));
    List<String> stageArgvs = stages.stream().map(stage -> String.join("\0", stage) + "\0").toList();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FIND_INIT_TIMEOUT_MILLIS);
    while (System.nanoTime() < deadline) {
      Optional<String> argv = read(proc.resolve("cmdline"));
      Optional<String> environment = read(proc.resolve("environ"));
      if (argv.isEmpty() || environment.isEmpty() || !init.alive()) {
        return; // it ended: the sweep reports it EXITED
      }
      boolean ownProgram = !argv.get().isEmpty() && !stageArgvs.contains(argv.get());
      if (ownProgram && (!hasEnvironment || !environment.get().isEmpty())) {
        return;
      }
      pause();
    }
    unshare.destroyForcibly();
    init.kill();
    throw new IOException("the workload (pid " + init.pid() + ") did not start its program within "
        + FIND_INIT_TIMEOUT_MILLIS + " ms");
  }

  /** A /proc text in the encoding the JVM passed the arguments and environment in. */
  private static Optional<String> read(Path file) {
    try {
      return Optional.of(new String(Files.readAllBytes(file), NATIVE_ENCODING));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static void pause() throws IOException {
    try {
      Thread.sleep(1);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while starting the workload", e);
    }
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
