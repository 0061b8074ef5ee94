package io.ums.agent.criu;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.TimeUnit;

/**
 * A small process (perl, from Debian's essential perl-base) between the destination's
 * {@code criu lazy-pages} daemon and the agent's relay, that outlives the agent. If the agent dies during
 * post-copy, the daemon's page-server connection must not simply close: the daemon would exit, its
 * userfaultfds with it, and the kernel would zero-fill every page still missing under the running tree.
 * The guard holds that connection; when its control pipe (our stdin to it) or the relay connection ends
 * before {@link #done()}, it kills the restored tree (the init of its PID namespace, read from CRIU's
 * pidfile) and waits until it is gone, and only then closes the daemon's connection. It is started with the
 * receive session ({@link #start}), so that its start (a perl, about 15 ms) is not part of the downtime; the
 * pid file is named later ({@link #restoredPidFile}), before the daemon starts. Blocking.
 */
public final class LazyPagesGuard implements AutoCloseable {
  public static final String LOG = "lazy-pages-guard.log";
  private static final String SCRIPT_RESOURCE = "/criu/lazy-pages-guard.pl";

  private final Process process;
  private final OutputStream control;
  private final int port;
  private final Path logDir;

  private LazyPagesGuard(Process process, int port, Path logDir) {
    this.process = process;
    this.control = process.getOutputStream();
    this.port = port;
    this.logDir = logDir;
  }

  /**
   * Starts the guard listening on {@code host} (for the daemon), relaying to the agent at
   * {@code host:agentPort}; until {@link #restoredPidFile} it has no tree to kill.
   */
  public static LazyPagesGuard start(Path workDir, String host, int agentPort) throws IOException {
    Path script = workDir.resolve("lazy-pages-guard.pl");
    try (InputStream in = LazyPagesGuard.class.getResourceAsStream(SCRIPT_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("resource " + SCRIPT_RESOURCE + " missing from the agent jar");
      }
      Files.copy(in, script, StandardCopyOption.REPLACE_EXISTING);
    }
    Process process = new ProcessBuilder("perl", script.toString(), host, Integer.toString(agentPort))
        .redirectError(ProcessBuilder.Redirect.appendTo(workDir.resolve(LOG).toFile()))
        .start();
    BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.US_ASCII));
    String line = out.readLine();
    if (line == null || !line.startsWith("port ")) {
      process.destroyForcibly();
      throw new CriuException("lazy-pages", "the lazy-pages guard did not start: " + CriuLog.errors(workDir.resolve(LOG)));
    }
    return new LazyPagesGuard(process, Integer.parseInt(line.substring(5).trim()), workDir);
  }

  /**
   * Where {@code criu restore --pidfile} (or runc) will write the restored root: from now on the guard kills
   * what is written there if the agent goes before {@link #done()}. Call before the daemon starts; fails when
   * the guard is gone (then nothing may be restored under it).
   */
  public void restoredPidFile(Path pidFile) {
    String path = pidFile.toAbsolutePath().toString();
    if (path.indexOf('\n') >= 0) {
      throw new IllegalArgumentException("a pid file path with a line break: " + path);
    }
    try {
      control.write(("pidfile " + path + "\n").getBytes(StandardCharsets.UTF_8));
      control.flush();
    } catch (IOException e) {
      throw new CriuException("lazy-pages", "the lazy-pages guard is gone (" + e.getMessage() + "): "
          + CriuLog.errors(logDir.resolve(LOG)));
    }
  }

  /** Where the daemon connects for its page server. */
  public int port() {
    return port;
  }

  /**
   * Every page is in: from now on the agent's side may end without the tree being killed. The guard may
   * already have exited (the daemon finished and closed first), which is just as good.
   */
  public void done() {
    try {
      control.write("done\n".getBytes(StandardCharsets.US_ASCII));
      control.flush();
    } catch (IOException e) {
      // already gone: it exits by itself once the daemon closed its connection
    }
  }

  public Process process() {
    return process;
  }

  /**
   * Ends the control pipe: before {@link #done()} the guard kills the tree (if still there) and exits;
   * after it, the guard exits once the daemon is finished. Waits up to 15 s, then kills it.
   */
  @Override
  public void close() throws IOException {
    try {
      control.close();
    } catch (IOException e) {
      // the guard is already gone
    }
    try {
      if (!process.waitFor(15, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }
}
