package io.ums.agent.criu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code criu dump --lazy-pages} of a process tree: the post-copy counterpart of {@link CriuDump}, with the
 * same settings (tcp-established, ext-unix-sk, skip-in-flight, ghost-limit, the post-dump gate), except
 * that the anonymous memory does not leave during the dump. CRIU writes the small images (and the few
 * pages that cannot be lazy) into {@code imagesDir}, runs the post-dump gate, and then becomes a page
 * server on {@code listenHost:listenPort} that serves the destination's {@code criu lazy-pages} daemon on
 * demand, keeping the tree frozen until that daemon says it has every page (PS_IOV_CLOSE) or the
 * connection ends. {@code --leave-stopped}: CRIU never kills the frozen copy; the agent does, once the
 * last page arrived (or resumes it when post-copy failed).
 *
 * <p>CRIU only listens after the gate said "commit". A gate that says anything else (or times out) makes
 * CRIU unlock the network and then still wait in {@code accept()} on its page-server port, with the tree
 * frozen; {@link #writeGateWrapper} therefore wraps the gate script so that, whenever the verdict is not
 * commit, a background helper connects to that port and closes it, which lets CRIU finish its rollback
 * (tasks resumed, network unlocked) even when the agent is gone.
 */
public final class CriuLazyDump {
  public static final String LOG = CriuDump.LOG;

  /**
   * @param listenHost where CRIU's lazy page server listens (127.0.0.1 in the agent's node namespace)
   * @param gateScript the {@link PostDumpGate} script ({@link PostDumpGate#writeScript})
   */
  public record Options(long pid, Path imagesDir, Path workDir, String listenHost, int listenPort,
                        Path gateScript) {}

  private CriuLazyDump() {}

  /** CriuDump's arguments with the page-server flag swapped for lazy pages and the gate wrapped. */
  public static List<String> arguments(Options options, Path actionScript) {
    List<String> args = new ArrayList<>(CriuDump.arguments(new CriuDump.Options(options.pid(),
        options.imagesDir(), options.workDir(), options.listenHost(), options.listenPort(), actionScript,
        false)));
    int pageServer = args.indexOf("--page-server");
    if (pageServer < 0 || !args.contains("--leave-stopped")) {
      throw new IllegalStateException("CriuDump's arguments changed shape: " + args);
    }
    args.set(pageServer, "--lazy-pages");
    return args;
  }

  /** Writes the gate wrapper and starts the dump. Blocking. */
  public static Process start(CriuRunner runner, Options options) throws IOException {
    Path wrapper = writeGateWrapper(options);
    return runner.start("dump", arguments(options, wrapper), options.workDir().resolve("dump.out"));
  }

  /**
   * The action script CRIU runs: the gate itself; when it does not say commit, a detached helper pokes
   * CRIU's lazy page server (up to ~10 s) so that CRIU's rollback is not stuck in accept(). Blocking.
   */
  static Path writeGateWrapper(Options options) throws IOException {
    Path path = options.workDir().resolve("lazy-dump-gate.sh");
    String poke = "/dev/tcp/" + options.listenHost() + "/" + options.listenPort();
    String text = "#!/bin/bash\n"
        + "# UMS: the post-dump gate of a lazy dump (see CriuLazyDump)\n"
        + "[ \"$CRTOOLS_SCRIPT_ACTION\" = post-dump ] || exit 0\n"
        + "'" + options.gateScript() + "' && exit 0\n"
        + "verdict=$?\n"
        + "( for attempt in $(seq 1 100); do sleep 0.1; { exec 4<>" + poke + "; } 2>/dev/null && exit 0; done )"
        + " </dev/null >/dev/null 2>&1 &\n"
        + "exit $verdict\n";
    Files.writeString(path, text);
    Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwx------"));
    return path;
  }

  public static String errors(Options options) {
    return CriuLog.errors(options.workDir().resolve(LOG));
  }
}
