package io.ums.agent.workload;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The reader of a workload's stdout/stderr pipe: a {@code cat >> LOG} in a session of its own
 * ({@code setsid}), outside the workload's process tree. The workload only ever holds the write end of an
 * anonymous pipe (which CRIU dumps and restores), never the growing log file (which would break restore
 * with "File ... has bad size"); and since neither it nor the relay depend on the agent, both survive an
 * agent restart.
 *
 * <p>The agent holds a write end too until {@link #releaseAgentWriter()}: without a writer, {@code cat}
 * would see end-of-file at once and exit. Once the workload (or CRIU restoring it) holds its own write end,
 * the agent lets go, and the relay then ends by itself when the last writer, the workload, is gone.
 *
 * <p><b>Restoring a workload elsewhere (migration engine):</b>
 * <ol>
 *   <li>{@code OutputRelay relay = workloads.openRelay(spec.name())} (on a worker);</li>
 *   <li>run {@code criu restore} with a descriptor opened for writing on {@link #writeEnd()} (any open of
 *   {@code /proc/<relay>/fd/0} for writing yields another write end of the same pipe), e.g.
 *   {@code ProcessBuilder.redirectOutput(relay.writeEnd().toFile())} makes it criu's fd 1, and pass
 *   {@code --inherit-fd fd[1]:pipe:[INODE]} where INODE is the source workload's pipe inode
 *   (the target of {@code /proc/<pid>/fd/1} on the source, "pipe:[INODE]", read before the dump);</li>
 *   <li>{@code workloads.adoptRestored(spec, pid, migrationId, relay.sink())}, which releases the agent's
 *   writer; on a failed restore call {@link #close()} instead, which stops the relay.</li>
 * </ol>
 * Blocking (starts processes): call it on a worker.
 */
public final class OutputRelay implements AutoCloseable {
  private final Process process;
  private final ProcessIdentity identity;
  private final Path logFile;
  private OutputStream agentWriter;
  private Runnable closeHook = () -> { };

  private OutputRelay(Process process, ProcessIdentity identity, Path logFile) {
    this.process = process;
    this.identity = identity;
    this.logFile = logFile;
    this.agentWriter = process.getOutputStream();
  }

  /** Starts a relay appending to {@code logFile} (created with its parent directories when missing). */
  public static OutputRelay start(Path logFile) throws IOException {
    Files.createDirectories(logFile.toAbsolutePath().getParent());
    if (!Files.exists(logFile)) {
      Files.createFile(logFile);
    }
    // setsid: a session (and process group) of its own, so signals to the agent's group never reach it.
    // Java starts children outside its own process group leadership, so setsid does not fork: the PID
    // we get is the relay's.
    Process process = new ProcessBuilder("setsid", "sh", "-c", "exec cat >> \"$0\"",
        logFile.toAbsolutePath().toString())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .directory(new File("/"))
        .start();
    ProcessIdentity identity = ProcessIdentity.of(process.pid())
        .orElseThrow(() -> new IOException("output relay for " + logFile + " exited at once"));
    return new OutputRelay(process, identity, logFile);
  }

  /** A path that, opened for writing, gives a new write end of this relay's pipe. */
  public Path writeEnd() {
    return Path.of("/proc", Long.toString(identity.pid()), "fd", "0");
  }

  public ProcessIdentity identity() {
    return identity;
  }

  public Path logFile() {
    return logFile;
  }

  public LogSink sink() {
    return new LogSink(logFile, identity.pid());
  }

  /** Lets go of the agent's write end: from now on the relay ends when the workload's write ends close. */
  public synchronized void releaseAgentWriter() {
    if (agentWriter != null) {
      try {
        agentWriter.close();
      } catch (IOException ignored) {
        // closing a pipe end cannot lose data here: the agent never wrote to it
      }
      agentWriter = null;
    }
  }

  /** What the registry that opened this relay forgets when it is closed unused. */
  synchronized void whenClosed(Runnable hook) {
    this.closeHook = hook;
  }

  /** Stops the relay (failed launch or restore). Blocking: waits for the relay to exit. */
  @Override
  public void close() {
    releaseAgentWriter();
    process.destroyForcibly();
    try {
      process.waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Runnable hook;
    synchronized (this) {
      hook = closeHook;
      closeHook = () -> { };
    }
    hook.run();
  }
}
