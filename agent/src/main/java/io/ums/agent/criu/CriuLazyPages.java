package io.ums.agent.criu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The destination's {@code criu lazy-pages} daemon: it reads the dumped images (pstree, mm, pagemaps),
 * listens on {@code lazy-pages.socket} in the work directory for {@code criu restore --lazy-pages}, takes
 * the restored tasks' userfaultfds, and fetches every missing page from a page server at
 * {@code pageServerHost:pageServerPort} (in UMS: a local relay into the migration connection): on demand
 * when a task faults, in growing background chunks otherwise. It exits 0 once every page is in.
 *
 * <p>Logs at -v4: the page-fault lines are what {@link LazyPagesLog} counts.
 */
public final class CriuLazyPages {
  public static final String LOG = "lazy-pages.log";
  public static final String SOCKET = "lazy-pages.socket";

  private CriuLazyPages() {}

  public static List<String> arguments(Path imagesDir, Path workDir, String pageServerHost, int pageServerPort) {
    return List.of(
        "--images-dir", imagesDir.toString(),
        "--work-dir", workDir.toString(),
        "--log-file", LOG, "-v4",
        "--page-server", "--address", pageServerHost,
        "--port", Integer.toString(pageServerPort));
  }

  /**
   * Starts the daemon and waits (up to {@code timeoutMillis}) until its restore socket exists. The daemon dies
   * with the agent, but only once the processes {@code guards} (the {@link LazyPagesGuard}, which kills the
   * restored tree first, and a {@link RestoreGuard}) are gone (see {@link Tether}). Blocking.
   */
  public static Process start(CriuRunner runner, Path imagesDir, Path workDir, String pageServerHost,
                              int pageServerPort, long timeoutMillis, List<Long> guards) throws IOException {
    Files.deleteIfExists(workDir.resolve(SOCKET));
    Process daemon = runner.startTethered("lazy-pages", arguments(imagesDir, workDir, pageServerHost, pageServerPort),
        workDir.resolve("lazy-pages.out"), guards);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    try {
      while (!Files.exists(workDir.resolve(SOCKET))) {
        if (!daemon.isAlive()) {
          throw new CriuException("lazy-pages", "criu lazy-pages exited (" + daemon.exitValue() + ") before "
              + "listening: " + errors(workDir));
        }
        if (System.nanoTime() > deadline) {
          Tether.kill(daemon, 5_000);
          throw new CriuException("lazy-pages", "criu lazy-pages did not listen within " + timeoutMillis + " ms");
        }
        Thread.sleep(2);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      Tether.kill(daemon, 5_000);
      throw new CriuException("lazy-pages", "interrupted");
    }
    return daemon;
  }

  public static String errors(Path workDir) {
    return CriuLog.errors(workDir.resolve(LOG));
  }
}
