package io.ums.agent.criu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * {@code criu restore -d} of a dumped process tree. The dumped root was the init of its own PID namespace,
 * so CRIU recreates a fresh namespace and no PID can clash. The tree's output pipe (dumped by inode) is
 * replaced by a pipe the caller provides ({@code --inherit-fd}), open on CRIU's stdout. Periodic timerfds
 * CRIU would restore disarmed are re-armed in the images first ({@link ExpiredTimerfds}); a tree with a user
 * namespace of its own gets its pipes back at their dumped size ({@link UserNamespacePipes}).
 */
public final class CriuRestore {
  public static final String LOG = "restore.log";
  private static final String PID_FILE = "restored.pid";

  /**
   * @param outputPipeInode inode of the dumped tree's stdout pipe, when it had one
   * @param output what CRIU's stdout (and so the restored tree's inherited pipe) is opened on
   * @param tcpEstablished restore live connections (only when their local addresses exist here); otherwise
   *     they come back closed and clients reconnect
   */
  public record Options(Path imagesDir, Path workDir, Optional<Long> outputPipeInode, Path output,
                        boolean tcpEstablished) {}

  private CriuRestore() {}

  /** Where the restore of a session with work dir {@code workDir} writes the restored root's PID. */
  public static Path pidFile(Path workDir) {
    return workDir.resolve(PID_FILE);
  }

  public static List<String> arguments(Options options) {
    List<String> args = new ArrayList<>(List.of(
        "--restore-detached",
        "--images-dir", options.imagesDir().toString(),
        "--work-dir", options.workDir().toString(),
        "--log-file", LOG, "-v2",
        "--pidfile", options.workDir().resolve(PID_FILE).toString(),
        "--ext-unix-sk",
        // inside a user namespace of its own, TCP repair needs CAP_NET_ADMIN over the host's network
        // namespace, which the restored tasks lack: the connections come back closed
        options.tcpEstablished() && !WorkloadMounts.hasUserNamespace(options.imagesDir())
            ? "--tcp-established" : "--tcp-close"));
    options.outputPipeInode().ifPresent(inode -> {
      args.add("--inherit-fd");
      args.add("fd[1]:pipe:[" + inode + "]");
    });
    return args;
  }

  /** Runs the restore to completion and returns the restored root's host PID. Blocking. */
  public static long run(CriuRunner runner, Options options, long timeoutMillis) throws IOException {
    return run(runner, options, arguments(options), "criu restore", timeoutMillis);
  }

  /** Runs {@code criu restore} with {@code args} (made from {@code options}), named {@code what} in errors. */
  static long run(CriuRunner runner, Options options, List<String> args, String what, long timeoutMillis)
      throws IOException {
    Files.deleteIfExists(options.workDir().resolve(PID_FILE));
    ExpiredTimerfds.rearmBeforeRestore(options.imagesDir());
    if (WorkloadMounts.hasUserNamespace(options.imagesDir())) {
      UserNamespacePipes.liftSoftLimit(UserNamespacePipes.SOFT_LIMIT);
    }
    if (!WorkloadMounts.hasMountNamespace(options.imagesDir())) {
      return runCriu(runner, options, args, what, timeoutMillis);
    }
    try (WorkloadMounts mounts = WorkloadMounts.bind()) {
      List<String> withMounts = new ArrayList<>(args);
      withMounts.addAll(mounts.restoreArguments());
      return runCriu(runner, options, withMounts, what, timeoutMillis);
    }
  }

  private static long runCriu(CriuRunner runner, Options options, List<String> args, String what,
      long timeoutMillis) throws IOException {
    // it dies with the agent, with the tasks it restored so far (see RestoreGuard)
    Process process = RestoreGuard.startRestorer(runner.builder("restore", args)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(options.output().toFile()))
        .redirectError(ProcessBuilder.Redirect.appendTo(options.workDir().resolve("restore.err").toFile())),
        options.workDir().resolve(PID_FILE));
    try {
      if (!process.waitFor(timeoutMillis, TimeUnit.MILLISECONDS)) {
        Tether.kill(process, 5_000);
        throw new CriuException("restore", what + " did not finish within " + timeoutMillis + " ms");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      Tether.kill(process, 5_000);
      throw new CriuException("restore", "interrupted");
    }
    if (process.exitValue() != 0) {
      throw new CriuException("restore", what + " failed (exit " + process.exitValue() + "): "
          + CriuLog.errors(options.workDir().resolve(LOG)));
    }
    String pid = Files.readString(options.workDir().resolve(PID_FILE)).trim();
    return Long.parseLong(pid);
  }
}
