package io.ums.agent.image;

import io.ums.agent.image.ImageStoreException.Code;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the image tools the agent drives (skopeo, tar, ctr) to completion, their output captured in a file (never
 * a pipe nobody drains) and a failure turned into an {@link ImageStoreException} naming the command, its exit
 * code and the last line it printed. Blocking: worker threads only.
 */
final class ImageTools {
  static final long TIMEOUT_SECONDS = 600;
  private static final File NO_INPUT = new File("/dev/null");

  private ImageTools() {}

  /** Runs {@code command}; returns what it printed (stdout and stderr). */
  static String run(Code failure, List<String> command) {
    return run(failure, command, true);
  }

  /**
   * Runs {@code command}; returns its standard output alone, for output that is parsed (ctr prints warnings on
   * stderr); a failure names the last line of its standard error.
   */
  static String output(Code failure, List<String> command) {
    return run(failure, command, false);
  }

  private static String run(Code failure, List<String> command, boolean withErrors) {
    Path capture = null;
    Path errors = null;
    try {
      capture = Files.createTempFile("ums-image-tool-", ".out");
      errors = withErrors ? capture : Files.createTempFile("ums-image-tool-", ".err");
      ProcessBuilder builder = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(NO_INPUT))
          .redirectOutput(capture.toFile());
      Process process = (withErrors ? builder.redirectErrorStream(true) : builder.redirectError(errors.toFile()))
          .start();
      awaitExit(failure, command, process);
      if (process.exitValue() != 0) {
        throw new ImageStoreException(failure, describe(command) + " failed (exit " + process.exitValue() + "): "
            + lastLine(Files.readString(errors)));
      }
      return Files.readString(capture);
    } catch (IOException e) {
      throw new ImageStoreException(failure, describe(command) + ": " + e.getMessage(), e);
    } finally {
      deleteQuietly(capture);
      deleteQuietly(errors);
    }
  }

  /**
   * Runs {@code producer | consumer}: the bytes go from one process to the other through the kernel's pipe, not
   * through this JVM. A failure names every one of the two that failed, the consumer first.
   */
  static void pipe(Code failure, List<String> producer, List<String> consumer) {
    Path producerErrors = null;
    Path consumerOutput = null;
    try {
      producerErrors = Files.createTempFile("ums-image-tool-", ".err");
      consumerOutput = Files.createTempFile("ums-image-tool-", ".out");
      List<Process> processes = ProcessBuilder.startPipeline(List.of(
          new ProcessBuilder(producer).redirectInput(ProcessBuilder.Redirect.from(NO_INPUT))
              .redirectError(producerErrors.toFile()),
          new ProcessBuilder(consumer).redirectErrorStream(true).redirectOutput(consumerOutput.toFile())));
      try {
        awaitExit(failure, consumer, processes.get(1));
        awaitExit(failure, producer, processes.get(0));
      } finally {
        processes.forEach(Process::destroyForcibly);
      }
      // a consumer that fails early breaks the producer's pipe: its own message is the cause, named first
      List<String> failures = new ArrayList<>();
      if (processes.get(1).exitValue() != 0) {
        failures.add(describe(consumer) + " failed (exit " + processes.get(1).exitValue() + "): "
            + lastLine(Files.readString(consumerOutput)));
      }
      if (processes.get(0).exitValue() != 0) {
        failures.add(describe(producer) + " failed (exit " + processes.get(0).exitValue() + "): "
            + lastLine(Files.readString(producerErrors)));
      }
      if (!failures.isEmpty()) {
        throw new ImageStoreException(failure, String.join("; ", failures));
      }
    } catch (IOException e) {
      throw new ImageStoreException(failure, describe(producer) + " | " + describe(consumer) + ": " + e.getMessage(),
          e);
    } finally {
      deleteQuietly(producerErrors);
      deleteQuietly(consumerOutput);
    }
  }

  static void awaitExit(Code failure, List<String> command, Process process) {
    try {
      if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        throw new ImageStoreException(failure, describe(command) + " timed out after " + TIMEOUT_SECONDS + " s");
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new ImageStoreException(failure, "interrupted: " + describe(command));
    }
  }

  static String describe(List<String> command) {
    return String.join(" ", command);
  }

  static String lastLine(String output) {
    String[] lines = output.strip().split("\n");
    return lines[lines.length - 1];
  }

  private static void deleteQuietly(Path file) {
    if (file != null) {
      file.toFile().delete();
    }
  }
}
