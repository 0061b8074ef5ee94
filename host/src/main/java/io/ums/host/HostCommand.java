package io.ums.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a short host command (ip, tc, gcc) to completion. Blocking: call it from a worker thread or from
 * test/bench set-up code, never from an event loop.
 */
public final class HostCommand {
  private HostCommand() {}

  public record Result(int exitCode, String output) {
    public boolean ok() {
      return exitCode == 0;
    }
  }

  public static Result run(List<String> command) {
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      process.getOutputStream().close();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        return new Result(-1, output + "\n(timed out)");
      }
      return new Result(process.exitValue(), output.strip());
    } catch (IOException e) {
      return new Result(-1, e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(-1, "interrupted");
    }
  }

  public static Result run(String... command) {
    return run(List.of(command));
  }

  /** Runs the command and throws with its output when it fails. */
  public static String check(String... command) {
    Result result = run(command);
    if (!result.ok()) {
      throw new IllegalStateException(String.join(" ", command) + " failed (exit " + result.exitCode() + "): "
          + result.output());
    }
    return result.output();
  }
}
