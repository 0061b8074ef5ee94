package io.ums.agent.criu;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code criu dump} of a process tree whose memory pages leave through {@code --page-server} to a TCP port
 * the agent relays, so nothing large touches this node's disk: only the small image files land in
 * {@code imagesDir}. The dump ends in the {@link PostDumpGate}'s action script, which holds the tasks
 * frozen until the switchover verdict.
 */
public final class CriuDump {
  public static final String LOG = "dump.log";
  /**
   * What any program, not only ours, needs from a dump; as CRIU configuration lines, so that runc (which
   * has no flags for them) passes them to CRIU through a configuration file as well.
   * <ul>
   *   <li>skip-in-flight: connections the kernel completed but the program has not accepted yet (any
   *       server under load) make CRIU refuse the listening socket; dropped, their clients connect again,
   *       to the destination.
   *   <li>ghost-limit: an open file already unlinked (tempfile.TemporaryFile, JIT caches) travels inside
   *       the images, which land in the destination's tmpfs; CRIU's default of 1 MiB refuses ordinary
   *       programs.
   * </ul>
   */
  public static final List<String> GENERAL_PROGRAM_SETTINGS = List.of("skip-in-flight", "ghost-limit 256M");

  /**
   * @param leaveRunning true for a copy (keep=true): CRIU resumes the tasks once the gate lets it go
   */
  public record Options(long pid, Path imagesDir, Path workDir, String pageServerHost, int pageServerPort,
                        Path actionScript, boolean leaveRunning) {}

  private CriuDump() {}

  public static List<String> arguments(Options options) {
    List<String> args = new ArrayList<>(List.of(
        "--tree", Long.toString(options.pid()),
        "--images-dir", options.imagesDir().toString(),
        "--work-dir", options.workDir().toString(),
        "--log-file", LOG, "-v2",
        // live client connections go along (locked with iptables while frozen)
        "--tcp-established",
        // unix sockets whose peer is outside the tree (e.g. syslog) do not block the dump
        "--ext-unix-sk",
        "--action-script", options.actionScript().toString(),
        "--page-server", "--address", options.pageServerHost(),
        "--port", Integer.toString(options.pageServerPort())));
    for (String setting : GENERAL_PROGRAM_SETTINGS) {
      String[] nameAndValue = setting.split(" ", 2);
      args.add("--" + nameAndValue[0]);
      if (nameAndValue.length == 2) {
        args.add(nameAndValue[1]);
      }
    }
    args.addAll(WorkloadMounts.dumpArguments(options.pid()));
    args.add(options.leaveRunning() ? "--leave-running" : "--leave-stopped");
    return args;
  }

  /** Starts the dump; its exit code is 0 only when the gate said commit. Blocking. */
  public static Process start(CriuRunner runner, Options options) throws IOException {
    return runner.start("dump", arguments(options), options.workDir().resolve("dump.out"));
  }

  public static String errors(Options options) {
    return CriuLog.errors(options.workDir().resolve(LOG));
  }
}
