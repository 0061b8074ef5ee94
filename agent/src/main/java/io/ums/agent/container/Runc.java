package io.ums.agent.container;

import io.ums.agent.container.ContainerException.Code;
import io.ums.agent.criu.ExpiredTimerfds;
import io.ums.agent.criu.RestoreGuard;
import io.ums.agent.criu.Tether;
import io.vertx.core.json.JsonObject;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The {@code runc} CLI, with this agent's own state root (two agents on one machine never see each other's
 * containers) and, when the agent runs outside its node's network namespace, every call entered into it
 * with {@code nsenter --net} (not {@code ip netns exec}, which remounts /sys and hides cgroups from runc).
 * Blocking: call from worker threads.
 */
public final class Runc {
  private static final long TIMEOUT_SECONDS = 300;

  private final Path stateRoot;
  private final String netnsPath;

  /** @param netnsPath {@code /run/netns/<name>}, or null to run in the agent's own network namespace */
  public Runc(Path stateRoot, String netnsPath) {
    this.stateRoot = stateRoot;
    this.netnsPath = netnsPath;
  }

  /** Starts the bundle's container detached; its stdio goes to the relay. Returns the container's host PID. */
  public long run(String id, Path bundle, OutputRelay output) {
    Path runcLog = bundle.resolveSibling("runc.log");
    exec(output.wrap(command(runcLog, "run", "-d", "--bundle", bundle.toString(), id)), Code.START_FAILED,
        runcLog);
    return pid(id);
  }

  /**
   * Dumps the container's process tree with CRIU. With {@code pageServer} ("host:port") the memory pages go
   * to that page server instead of {@code imagesDir}. With {@code leaveRunning} the container stays (in the
   * state it was: a paused container stays frozen), otherwise runc removes it.
   */
  public void checkpoint(String id, Path imagesDir, Path workDir, String pageServer, boolean leaveRunning) {
    Path runcLog = workDir.resolve("runc.log");
    List<String> args = new ArrayList<>(List.of("checkpoint", "--tcp-established", "--image-path",
        imagesDir.toAbsolutePath().toString(), "--work-path", workDir.toAbsolutePath().toString()));
    if (pageServer != null) {
      args.addAll(List.of("--page-server", pageServer));
    }
    if (leaveRunning) {
      args.add("--leave-running");
    }
    args.add(id);
    exec(command(runcLog, args.toArray(String[]::new)), Code.CHECKPOINT_FAILED, runcLog,
        workDir.resolve("dump.log"));
  }

  /** runc's {@code --pid-file} flag: a restore writes the container's init PID there ({@link #restoredPidFile}). */
  public static final String PID_FILE_FLAG = "--pid-file";

  /** Where {@link #restore} with this work dir has runc write the restored container's init PID. */
  public static Path restoredPidFile(Path workDir) {
    return workDir.toAbsolutePath().resolve("restored.pid");
  }

  /**
   * Restores a checkpoint into a new container {@code id} from {@code bundle}, detached; the container's PID
   * also goes to {@link #restoredPidFile} (what a restore guard kills). Returns its PID.
   */
  public long restore(String id, Path bundle, Path imagesDir, Path workDir, OutputRelay output) {
    return restore(id, bundle, imagesDir, workDir, output, false);
  }

  /**
   * As {@link #restore(String, Path, Path, Path, OutputRelay)}; with {@code lazyPages} the memory stays out
   * ({@code --lazy-pages}): the {@code criu lazy-pages} daemon listening in {@code workDir} fetches it.
   */
  public long restore(String id, Path bundle, Path imagesDir, Path workDir, OutputRelay output, boolean lazyPages) {
    Path runcLog = workDir.resolve("runc.log");
    List<String> args = new ArrayList<>(List.of("restore", "-d", PID_FILE_FLAG, restoredPidFile(workDir).toString(),
        "--image-path", imagesDir.toAbsolutePath().toString(), "--work-path", workDir.toAbsolutePath().toString(),
        "--bundle", bundle.toString()));
    if (lazyPages) {
      args.add("--lazy-pages");
    }
    args.add(id);
    ExpiredTimerfds.rearmBeforeRestore(imagesDir);
    run(output.wrap(command(runcLog, args.toArray(String[]::new))), restoredPidFile(workDir), Code.RESTORE_FAILED,
        runcLog, workDir.resolve("restore.log"));
    return pid(id);
  }

  /**
   * Starts {@code runc checkpoint --lazy-pages --leave-running} of a paused container: CRIU writes the small
   * images, writes a byte to {@code statusFile} (runc's {@code --status-fd}) and then serves the memory from
   * its lazy page server on {@code pageServer}'s port (all addresses) until the destination's daemon has every
   * page or the connection ends. The container stays paused whatever CRIU's outcome: the caller destroys or
   * resumes it. Output to {@code workDir/checkpoint.out}; {@link #lazyCheckpointFailure} explains an exit.
   */
  public Process startLazyCheckpoint(String id, Path imagesDir, Path workDir, String pageServer, Path statusFile)
      throws IOException {
    Files.createDirectories(stateRoot);
    List<String> command = new ArrayList<>(List.of("bash", "-c", "exec \"$@\" 5>\"$0\"", statusFile.toString()));
    command.addAll(command(workDir.resolve("runc.log"), "checkpoint", "--tcp-established", "--lazy-pages",
        "--leave-running", "--page-server", pageServer, "--status-fd", "5", "--image-path",
        imagesDir.toAbsolutePath().toString(), "--work-path", workDir.toAbsolutePath().toString(), id));
    return new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .redirectErrorStream(true).redirectOutput(workDir.resolve("checkpoint.out").toFile()).start();
  }

  /** Why a lazy checkpoint started by {@link #startLazyCheckpoint} failed: runc's output and log, CRIU's errors. */
  public static String lazyCheckpointFailure(Path workDir) {
    String output;
    try {
      output = Files.exists(workDir.resolve("checkpoint.out")) ? Files.readString(workDir.resolve("checkpoint.out")) : "";
    } catch (IOException e) {
      output = e.getMessage();
    }
    return describe(output, workDir.resolve("runc.log"), workDir.resolve("dump.log"));
  }

  public void pause(String id) {
    simple(Code.CHECKPOINT_FAILED, "pause", id);
  }

  public void resume(String id) {
    simple(Code.START_FAILED, "resume", id);
  }

  /** Kills and deletes the container; idempotent (an unknown container is already gone). */
  public void destroy(String id) {
    if (state(id).isEmpty()) {
      return;
    }
    exec(command(null, "delete", "--force", id), Code.NOT_FOUND, null);
  }

  /** runc's state of the container ({@code status}: created, running, paused, stopped), empty if unknown. */
  public Optional<JsonObject> state(String id) {
    Result result = execCapture(command(null, "state", id));
    if (result.exitCode != 0) {
      return Optional.empty();
    }
    return Optional.of(new JsonObject(result.output));
  }

  private long pid(String id) {
    return state(id).map(state -> state.getLong("pid"))
        .orElseThrow(() -> new ContainerException(Code.START_FAILED, "runc lost container " + id));
  }

  private void simple(Code failure, String verb, String id) {
    exec(command(null, verb, id), failure, null);
  }

  private List<String> command(Path runcLog, String... args) {
    List<String> command = new ArrayList<>();
    if (netnsPath != null) {
      command.addAll(List.of("nsenter", "--net=" + netnsPath));
    }
    command.addAll(List.of("runc", "--root", stateRoot.toString()));
    if (runcLog != null) {
      command.addAll(List.of("--log", runcLog.toString()));
    }
    command.addAll(List.of(args));
    return command;
  }

  private void exec(List<String> command, Code failure, Path runcLog, Path... criuLogs) {
    run(command, null, failure, runcLog, criuLogs);
  }

  /**
   * Runs {@code command}; with a {@code restoredPidFile} it is a restore writing that file, run so that it dies
   * with the agent, with the container it restored so far (see {@link RestoreGuard#startRestorer}).
   */
  private void run(List<String> command, Path restoredPidFile, Code failure, Path runcLog, Path... criuLogs) {
    try {
      Files.createDirectories(stateRoot);
      Path capture = Files.createTempFile(stateRoot, "runc-", ".out");
      ProcessBuilder builder = new ProcessBuilder(command)
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
          .redirectErrorStream(true)
          .redirectOutput(capture.toFile());
      Process process = restoredPidFile == null ? builder.start()
          : RestoreGuard.startRestorer(builder, restoredPidFile);
      boolean exited = process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      String output = Files.readString(capture);
      Files.deleteIfExists(capture);
      if (!exited) {
        Tether.kill(process, 5_000);
        throw new ContainerException(failure, String.join(" ", command) + " timed out");
      }
      if (process.exitValue() != 0) {
        throw new ContainerException(failure, String.join(" ", command) + " failed (exit " + process.exitValue()
            + "): " + describe(output, runcLog, criuLogs));
      }
    } catch (IOException e) {
      throw new ContainerException(failure, String.join(" ", command) + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ContainerException(failure, "interrupted: " + String.join(" ", command));
    }
  }

  private record Result(int exitCode, String output) {}

  private Result execCapture(List<String> command) {
    try {
      Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
      process.getOutputStream().close();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      return new Result(process.exitValue(), output);
    } catch (IOException e) {
      return new Result(-1, e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(-1, "interrupted");
    }
  }

  /** The runtime's own message plus the last error lines of the CRIU log, without the sandbox's rlimit noise. */
  private static String describe(String output, Path runcLog, Path... criuLogs) {
    StringBuilder message = new StringBuilder(output.strip());
    if (runcLog != null) {
      message.append(' ').append(lastLines(runcLog, "level=error", 3));
    }
    for (Path criuLog : criuLogs) {
      message.append(' ').append(lastLines(criuLog, "Error", 4));
    }
    return message.toString().strip();
  }

  private static String lastLines(Path file, String marker, int count) {
    try {
      if (!Files.exists(file)) {
        return "";
      }
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8).stream()
          .filter(line -> line.contains(marker) && !line.contains("RLIMIT_NOFILE")).toList();
      return String.join(" | ", lines.subList(Math.max(0, lines.size() - count), lines.size()));
    } catch (IOException e) {
      return "";
    }
  }
}
