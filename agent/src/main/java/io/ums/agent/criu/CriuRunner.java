package io.ums.agent.criu;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How this node runs CRIU: the binary (found by {@code CriuInstallation}) and an optional wrapper that
 * places it in a node's network namespace. The agent itself already runs inside its node's netns, so it
 * uses no wrapper; tests that drive CRIU from the root namespace wrap it in {@code nsenter --net=...}.
 */
public record CriuRunner(Path binary, List<String> wrapper) {
  public CriuRunner {
    wrapper = List.copyOf(wrapper);
  }

  public static CriuRunner local(Path binary) {
    return new CriuRunner(binary, List.of());
  }

  /** The same CRIU, run inside the network namespace at {@code netnsPath} (e.g. /run/netns/x). */
  public CriuRunner inNetns(String netnsPath) {
    return new CriuRunner(binary, List.of("nsenter", "--net=" + netnsPath));
  }

  /** The full command line for {@code criu <action> <args...>}. */
  public List<String> command(String action, List<String> args) {
    List<String> command = new ArrayList<>(wrapper);
    command.add(binary.toString());
    command.add(action);
    command.addAll(args);
    return command;
  }

  /** A process builder for the action, stdin on /dev/null, in "/" (blocking callers only start it). */
  public ProcessBuilder builder(String action, List<String> args) {
    return new ProcessBuilder(command(action, args))
        .directory(new File("/"))
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
  }

  /**
   * Starts a long-lived helper action (page server, lazy-pages daemon) that dies with this agent (see
   * {@link Tether}), killed only once the processes {@code outlive} are gone; output as {@link #start}. Blocking.
   */
  public Process startTethered(String action, List<String> args, Path output, List<Long> outlive)
      throws IOException {
    return Tether.start(builder(action, args)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(output.toFile())), outlive);
  }

  /** Starts the action with stdout and stderr appended to {@code output}. Blocking. */
  public Process start(String action, List<String> args, Path output) throws IOException {
    return builder(action, args)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(output.toFile()))
        .start();
  }
}
