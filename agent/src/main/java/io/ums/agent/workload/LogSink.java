package io.ums.agent.workload;

import java.nio.file.Path;

/**
 * Where a workload's stdout/stderr end up: the file an out-of-tree relay appends to. The relay, not the
 * agent, holds the read end of the workload's output pipe, so the workload survives an agent restart.
 * {@code relayPid} is the relay's host PID (0 when unknown); {@link OutputRelay#sink()} fills both.
 */
public record LogSink(Path file, long relayPid) {
  public LogSink(Path file) {
    this(file, 0);
  }
}
