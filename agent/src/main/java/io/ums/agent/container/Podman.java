package io.ums.agent.container;

import io.ums.agent.container.ContainerException.Code;
import io.ums.agent.image.Image;
import io.ums.agent.image.OciImageStore;
import io.ums.agent.workload.WorkloadSpec;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The {@code podman} CLI (the nested-runtime case): images come from our OCI store by {@code podman pull
 * oci:<store>:<name>} (podman's image id is our config digest, the same on every node), containers share
 * the node's network namespace ({@code --network host}). A checkpoint is podman's own archive (pages,
 * CRIU images and the writable layer's diff); podman writes it to a pipe, but reads it back only from a
 * regular file. Blocking: call from worker threads.
 */
public final class Podman {
  private static final long TIMEOUT_SECONDS = 300;
  private final String netnsPath;

  /** @param netnsPath {@code /run/netns/<name>}, or null to run in the agent's own network namespace */
  public Podman(String netnsPath) {
    this.netnsPath = netnsPath;
  }

  /** Makes the image available to podman; returns podman's id for it (our config digest's hex). */
  public String ensureImage(OciImageStore store, Image image) {
    String id = image.config().hex();
    if (exec(Code.START_FAILED, "image", "exists", id).exitCode == 0) {
      return id;
    }
    check(Code.START_FAILED, "pull", "--quiet", "oci:" + store.root() + ":" + image.name());
    return id;
  }

  /** Starts the container detached in the node's network namespace; returns its host PID. */
  public long run(String name, String imageId, WorkloadSpec spec) {
    List<String> args = new ArrayList<>(List.of("run", "-d", "--name", name, "--network", "host",
        "--hostname", spec.name()));
    for (Map.Entry<String, String> entry : spec.env().entrySet()) {
      args.addAll(List.of("--env", entry.getKey() + "=" + entry.getValue()));
    }
    args.add(imageId);
    args.addAll(spec.command());
    check(Code.START_FAILED, args.toArray(String[]::new));
    return pid(name).orElseThrow(() -> new ContainerException(Code.START_FAILED, "podman lost container " + name));
  }

  /**
   * Checkpoints the container into {@code export} (a FIFO is fine: podman streams it). The container stops;
   * its checkpoint is also kept locally, so that {@link #restoreKept} can bring it back (rollback).
   */
  public void checkpoint(String name, Path export) {
    check(Code.CHECKPOINT_FAILED, "container", "checkpoint", "--keep", "--export=" + export, name);
  }

  /** Restores the container from the checkpoint {@link #checkpoint} kept (a rolled-back migration). */
  public void restoreKept(String name) {
    check(Code.RESTORE_FAILED, "container", "restore", "--keep", name);
  }

  /** What {@link #restoreImport} of {@code archive} has in its arguments: a restore guard finds it by that. */
  public static String restoreMarker(Path archive) {
    return "--import=" + archive;
  }

  /** The command that removes container {@code name}, whatever its state (what a restore guard runs). */
  public List<String> removeCommand(String name) {
    List<String> command = new ArrayList<>();
    if (netnsPath != null) {
      command.addAll(List.of("nsenter", "--net=" + netnsPath));
    }
    command.addAll(List.of("podman", "rm", "--force", "--ignore", "--time", "0", name));
    return command;
  }

  /** Restores an exported checkpoint (a regular file) as a new container {@code name}; returns its PID. */
  public long restoreImport(String name, Path archive) {
    check(Code.RESTORE_FAILED, "container", "restore", restoreMarker(archive), "--name", name);
    return pid(name).orElseThrow(() -> new ContainerException(Code.RESTORE_FAILED, "podman lost container " + name));
  }

  public boolean running(String name) {
    Result state = exec(Code.NOT_FOUND, "inspect", "--format", "{{.State.Running}}", name);
    return state.exitCode == 0 && state.output.strip().equals("true");
  }

  public boolean exists(String name) {
    return exec(Code.NOT_FOUND, "container", "exists", name).exitCode == 0;
  }

  public Optional<Long> pid(String name) {
    Result result = exec(Code.NOT_FOUND, "inspect", "--format", "{{.State.Pid}}", name);
    if (result.exitCode != 0) {
      return Optional.empty();
    }
    long pid = Long.parseLong(result.output.strip());
    return pid > 0 ? Optional.of(pid) : Optional.empty();
  }

  public String logs(String name) {
    return exec(Code.NOT_FOUND, "logs", name).output;
  }

  /** Kills and removes the container with its kept checkpoint; idempotent. */
  public void remove(String name) {
    exec(Code.NOT_FOUND, "rm", "--force", "--ignore", name);
  }

  private record Result(int exitCode, String output) {}

  private void check(Code failure, String... args) {
    Result result = exec(failure, args);
    if (result.exitCode != 0) {
      throw new ContainerException(failure, "podman " + String.join(" ", args) + " failed (exit "
          + result.exitCode + "): " + result.output.strip());
    }
  }

  private Result exec(Code failure, String... args) {
    List<String> command = new ArrayList<>();
    if (netnsPath != null) {
      command.addAll(List.of("nsenter", "--net=" + netnsPath));
    }
    command.add("podman");
    command.addAll(List.of(args));
    Path capture = null;
    try {
      capture = Files.createTempFile("ums-podman-", ".out");
      Process process = new ProcessBuilder(command)
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
          .redirectErrorStream(true).redirectOutput(capture.toFile()).start();
      if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new ContainerException(failure, String.join(" ", command) + " timed out");
      }
      return new Result(process.exitValue(), Files.readString(capture));
    } catch (IOException e) {
      throw new ContainerException(failure, String.join(" ", command) + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ContainerException(failure, "interrupted: " + String.join(" ", command));
    } finally {
      if (capture != null) {
        try {
          Files.deleteIfExists(capture);
        } catch (IOException ignored) {
          // a temp file left in /tmp is harmless
        }
      }
    }
  }
}
