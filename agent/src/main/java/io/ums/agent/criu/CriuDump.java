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
  /** Largest deleted-but-open file carried; they land in the destination's image tmpfs. */
  static final String GHOST_LIMIT = "256M";

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
        // an open file already unlinked (tempfile.TemporaryFile, JIT caches) travels inside the images;
        // CRIU's default limit of 1 MiB refuses ordinary programs
        "--ghost-limit", GHOST_LIMIT,
        "--action-script", options.actionScript().toString(),
        "--page-server", "--address", options.pageServerHost(),
        "--port", Integer.toString(options.pageServerPort())));
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
