package io.ums.bench.local;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A process the bench started and must stop: stdin from /dev/null, output to a log file (or discarded), so
 * that CRIU sees no terminal and no pipe to us. {@link #close()} stops the whole process tree.
 */
public final class ChildProcess implements AutoCloseable {
  private final String name;
  private final Process process;
  private final Path log;

  private ChildProcess(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    this.log = log;
  }

  /** Starts {@code command}; its stdout and stderr go to {@code log}, or nowhere when {@code log} is null. */
  public static ChildProcess start(String name, List<String> command, Path log) {
    ProcessBuilder builder = new ProcessBuilder(command).redirectInput(new File("/dev/null"));
    if (log == null) {
      builder.redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD);
    } else {
      builder.redirectErrorStream(true).redirectOutput(log.toFile());
    }
    try {
      return new ChildProcess(name, builder.start(), log);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + name + " (" + command.get(0) + ")", e);
    }
  }

  public long pid() {
    return process.pid();
  }

  public String name() {
    return name;
  }

  public Path log() {
    return log;
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  public Process process() {
    return process;
  }

  /** Waits for the process to end; returns its exit code, or -1 when it is still running at the deadline. */
  public int waitFor(long millis) {
    try {
      return process.waitFor(millis, TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  /** SIGTERM, a grace period, then SIGKILL to the process and everything it started. */
  public void stop(long graceMillis) {
    List<ProcessHandle> descendants = process.descendants().toList();
    process.destroy();
    if (waitFor(graceMillis) < 0) {
      process.destroyForcibly();
      waitFor(2_000);
    }
    descendants.forEach(ProcessHandle::destroyForcibly);
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      stop(3_000);
    }
  }
}
