package io.ums.agent.container;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A container's stdout/stderr: an anonymous pipe whose read end a {@code cat} holds and appends to the
 * container's log. The relay, not the agent, holds the read end, so the container keeps running across an
 * agent restart; and it is a pipe, not a file: CRIU dumps an external pipe (and runc restore hands the
 * restored container a new one), while a named FIFO or a growing log file outside the container's mounts
 * cannot be dumped or restored. The relay ends by itself when the container's last writer closes.
 */
public record OutputRelay(Path log) {
  /**
   * Wraps a runtime command ({@code runc run -d} / {@code runc restore -d}) so that it runs with its stdio on
   * the relay's pipe; the container inherits it. The wrapper's exit code is the runtime's.
   */
  public List<String> wrap(List<String> runtimeCommand) {
    List<String> command = new ArrayList<>(List.of("bash", "-c",
        "exec > >(exec cat >> \"$0\") 2>&1 </dev/null; exec \"$@\"", log.toString()));
    command.addAll(runtimeCommand);
    return command;
  }
}
