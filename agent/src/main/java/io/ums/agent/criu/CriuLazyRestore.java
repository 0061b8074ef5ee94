package io.ums.agent.criu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code criu restore -d --lazy-pages}: {@link CriuRestore} with the anonymous memory left out. The restored
 * tasks run as soon as CRIU returns; their missing pages come through the {@link CriuLazyPages} daemon,
 * which must already listen in the same work directory.
 */
public final class CriuLazyRestore {
  private static final String PID_FILE = "restored.pid";

  private CriuLazyRestore() {}

  public static List<String> arguments(CriuRestore.Options options) {
    List<String> args = new ArrayList<>(CriuRestore.arguments(options));
    args.add("--lazy-pages");
    return args;
  }

  /** Runs the restore to completion and returns the restored root's host PID. Blocking. */
  public static long run(CriuRunner runner, CriuRestore.Options options, long timeoutMillis) throws IOException {
    Files.deleteIfExists(options.workDir().resolve(PID_FILE));
    Process process = runner.builder("restore", arguments(options))
        .redirectOutput(ProcessBuilder.Redirect.appendTo(options.output().toFile()))
        .redirectError(ProcessBuilder.Redirect.appendTo(options.workDir().resolve("restore.err").toFile()))
        .start();
    try {
      if (!process.waitFor(timeoutMillis, TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        throw new CriuException("restore", "criu restore --lazy-pages did not finish within " + timeoutMillis
            + " ms");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
      throw new CriuException("restore", "interrupted");
    }
    if (process.exitValue() != 0) {
      throw new CriuException("restore", "criu restore --lazy-pages failed (exit " + process.exitValue() + "): "
          + CriuLog.errors(options.workDir().resolve(CriuRestore.LOG)));
    }
    return Long.parseLong(Files.readString(options.workDir().resolve(PID_FILE)).trim());
  }
}
