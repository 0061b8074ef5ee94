package io.ums.agent.migration;

import io.ums.agent.container.ContainerException;
import io.ums.agent.container.ContainerWorkloads;
import io.ums.agent.container.Runc;
import io.ums.agent.dataplane.LazyPageServing;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A runc container's post-copy checkpoint, the source side's lazy dump: the container is paused (cgroup
 * freezer) and {@code runc checkpoint --lazy-pages --leave-running} runs: CRIU writes the small images,
 * says so on runc's status fd, and serves the memory from its lazy page server until the destination's
 * daemon has every page or the connection ends. Paused first and left running, the container stays paused
 * whatever CRIU's outcome (seen with runc 1.1.5 and CRIU 4.2.1: a clean end of the page-server socket and a
 * broken one both leave it paused; without the pause and leave-running a clean end before the last page
 * made runc destroy it), so this agent alone decides: destroy it once the destination has every page, or
 * resume it. Lives on the event loop that created it; blocking steps run on workers.
 */
final class RuncLazyCheckpoint implements LazyDumpSide {
  private static final long DUMP_TIMEOUT_MILLIS = 300_000;

  private final Vertx vertx;
  private final ContainerWorkloads containers;
  private final String containerId;
  private final Path workDir;
  private final Path statusFile;
  private final String host;
  private final LazyPageServing serving;
  private final Process checkpoint;

  private RuncLazyCheckpoint(Vertx vertx, ContainerWorkloads containers, String containerId, Path workDir,
                             Path statusFile, String host, LazyPageServing serving, Process checkpoint) {
    this.vertx = vertx;
    this.containers = containers;
    this.containerId = containerId;
    this.workDir = workDir;
    this.statusFile = statusFile;
    this.host = host;
    this.serving = serving;
    this.checkpoint = checkpoint;
  }

  /** Pauses the container and starts the checkpoint; wait for {@link #dumped()} before sending images. */
  static Future<RuncLazyCheckpoint> start(Vertx vertx, ContainerWorkloads containers, String containerId,
                                          Path imagesDir, Path workDir, String host, long connectTimeoutMillis) {
    Path statusFile = workDir.resolve("checkpoint.status");
    return vertx.executeBlocking(() -> LazyPageServing.pickPort(host), false).compose(port -> {
      LazyPageServing serving = new LazyPageServing(vertx, host, port, connectTimeoutMillis);
      return containers.freezeAndStartLazyCheckpoint(containerId, imagesDir, workDir, host + ":" + port, statusFile)
          .map(process -> new RuncLazyCheckpoint(vertx, containers, containerId, workDir, statusFile, host, serving,
              process));
    });
  }

  /** Completes once the images are written and CRIU's page server listens; fails when runc exited first. */
  Future<Void> dumped() {
    return vertx.executeBlocking(() -> {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DUMP_TIMEOUT_MILLIS);
      // runc writes one byte to its status fd (this file) when CRIU's lazy page server is ready
      while (!Files.exists(statusFile) || Files.size(statusFile) == 0) {
        if (checkpoint.waitFor(2, TimeUnit.MILLISECONDS)) {
          throw new ContainerException(ContainerException.Code.CHECKPOINT_FAILED, "runc checkpoint --lazy-pages"
              + " exited (" + checkpoint.exitValue() + ") before its images: " + Runc.lazyCheckpointFailure(workDir));
        }
        if (System.nanoTime() > deadline) {
          throw new ContainerException(ContainerException.Code.CHECKPOINT_FAILED,
              "runc checkpoint --lazy-pages wrote no images within " + DUMP_TIMEOUT_MILLIS + " ms");
        }
      }
      return null;
    }, false);
  }

  @Override
  public Future<?> serve(UmsConnection connection, IncomingChannel requests) {
    serving.commit();
    return serving.serve(connection, requests);
  }

  @Override
  public boolean committed() {
    return serving.committed();
  }

  /** Once the destination has every page: CRIU's session ends, the checkpoint exits (the caller destroys it). */
  Future<Void> finish() {
    return serving.lastPageDelivered().timeout(30, TimeUnit.SECONDS).otherwiseEmpty()
        .compose(ignored -> vertx.executeBlocking(() -> endCheckpoint(30_000, false), false)).mapEmpty();
  }

  /** Before the commit: CRIU's page server is told to end (a connection that closes), the container resumes. */
  @Override
  public Future<Boolean> rollback() {
    serving.abort("rolled back before the commit");
    return vertx.executeBlocking(() -> endCheckpoint(30_000, true), false)
        .transform(ignored -> containers.thaw(containerId)).map(true);
  }

  /** After a broken post-copy, the destination's copy dead: CRIU's session ends, the container resumes. */
  @Override
  public Future<Boolean> resume(String why) {
    serving.abort(why);
    return vertx.executeBlocking(() -> endCheckpoint(10_000, true), false)
        .transform(ignored -> containers.thaw(containerId)).map(true);
  }

  long bytesServed() {
    return serving.bytesServed();
  }

  /**
   * Waits for runc to exit; with {@code poke} connects to CRIU's page server now and then, so that a CRIU
   * still waiting for the destination's daemon ends its session (the container stays paused). Blocking.
   */
  private int endCheckpoint(long timeoutMillis, boolean poke) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    while (!checkpoint.waitFor(100, TimeUnit.MILLISECONDS) && System.nanoTime() < deadline) {
      if (poke) {
        try (Socket socket = new Socket()) {
          socket.connect(new InetSocketAddress(host, serving.port()), 1000);
        } catch (IOException notListening) {
          // not yet listening (still dumping) or already done
        }
      }
    }
    if (checkpoint.isAlive()) {
      checkpoint.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    }
    return checkpoint.isAlive() ? -1 : checkpoint.exitValue();
  }
}
