package io.ums.bench.kube;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the cluster's command-line tools (./ums cluster, kubectl, ctr, podman, curl in a node's namespace) with a
 * deadline. Output goes to files, not pipes: {@code ./ums cluster up} leaves daemons behind that must not hold a
 * pipe this waits on. Blocking: set-up code and command-line harnesses only.
 */
public final class KubeCommands {
  private KubeCommands() {}

  /** Exit code and stdout (stderr appended when the command failed). */
  public record Result(int exitCode, String output) {
    public boolean ok() {
      return exitCode == 0;
    }
  }

  /** A command that failed or timed out, with what it said. */
  public static final class Failed extends RuntimeException {
    public Failed(String message) {
      super(message);
    }
  }

  public static Result run(Duration timeout, List<String> command) {
    return run(timeout, command, Map.of());
  }

  public static Result run(Duration timeout, List<String> command, Map<String, String> env) {
    try {
      File out = File.createTempFile("ums-kube-", ".out");
      File err = File.createTempFile("ums-kube-", ".err");
      try {
        ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(out).redirectError(err)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.environment().putAll(env);
        Process process = builder.start();
        if (!process.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
          return new Result(-1, String.join(" ", command) + " timed out after " + timeout.toSeconds() + " s; "
              + tail(Files.readString(err.toPath())));
        }
        String output = Files.readString(out.toPath());
        return new Result(process.exitValue(), process.exitValue() == 0 ? output
            : output + "\n" + Files.readString(err.toPath()));
      } finally {
        out.delete();
        err.delete();
      }
    } catch (IOException e) {
      return new Result(-1, String.join(" ", command) + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(-1, "interrupted");
    }
  }

  /** Runs the command and throws {@link Failed} with its output unless it exits 0. */
  public static String check(Duration timeout, List<String> command) {
    return check(timeout, command, Map.of());
  }

  public static String check(Duration timeout, List<String> command, Map<String, String> env) {
    Result result = run(timeout, command, env);
    if (!result.ok()) {
      throw new Failed(String.join(" ", command) + " failed (exit " + result.exitCode() + "): "
          + tail(result.output()));
    }
    return result.output();
  }

  private static String tail(String text) {
    String stripped = text.strip();
    return stripped.length() > 1500 ? "..." + stripped.substring(stripped.length() - 1500) : stripped;
  }
}
