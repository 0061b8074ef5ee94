package io.ums.agent.migration;

import io.ums.agent.criu.CriuPageServer;
import io.ums.agent.criu.Tether;
import io.ums.agent.dataplane.PageServerConnector;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.workload.Workload;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.SocketPipes;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What the destinations of CRIU checkpoints share (a process tree, a container): a local {@code criu
 * page-server}, started as soon as the source connects, writing into the session's tmpfs directory, fed
 * by the "pages" channel (its answers go back on a channel of our own), and one channel per image file.
 */
abstract class CriuDestination extends SessionDestination {
  private static final long PAGE_SERVER_CONNECT_MILLIS = 10_000;
  private static final long PAGE_SERVER_EXIT_MILLIS = 30_000;
  private static final int PAGE_SERVER_WRITE_QUEUE = 1024 * 1024;

  private final Promise<Void> pagesReceived = Promise.promise();
  private final List<Future<Void>> images = new ArrayList<>();
  private Future<Integer> pageServerPort;
  private Process pageServer;
  /** Set by {@link #release}: a page server still starting then is killed at once (guarded by this). */
  private boolean released;
  private Future<Integer> pageServerExit;
  private IncomingChannel pagesChannel;

  CriuDestination(ReceiveSession session) {
    super(session);
  }

  @Override
  public void attached() {
    pageServerPort = vertx.executeBlocking(() -> {
      Files.createDirectories(dir.resolve("images"));
      int port = CriuPageServer.freePort(deps.localHost());
      Process started = CriuPageServer.start(deps.criu(), dir.resolve("images"), dir, deps.localHost(), port);
      synchronized (this) {
        if (released) { // the session ended while the page server started: it must not outlive it
          Tether.kill(started, 5_000);
          throw new IllegalStateException("the session ended");
        }
        pageServer = started;
      }
      return port;
    }, false);
    pageServerExit = pageServerPort.compose(port -> vertx.executeBlocking(() -> pageServer.waitFor(), false));
    pageServerPort.onFailure(failure -> session.fail(MigrationFailure.of(Code.PAGE_SERVER_FAILED,
        "cannot start criu page-server: " + failure.getMessage())));
  }

  /**
   * Waits for {@link #attached()}'s worker (the images directory made, the page server started): a session
   * that ends at once would otherwise have its directory removed before that worker makes it again.
   */
  @Override
  public Future<Void> quiesce() {
    return pageServerPort == null ? Future.succeededFuture() : pageServerPort.otherwiseEmpty().mapEmpty();
  }

  @Override
  public boolean accept(IncomingChannel channel) {
    switch (channel.kind()) {
      case Channels.PAGES -> relayPages(channel);
      case Channels.IMAGE -> images.add(ImageFiles.receive(vertx, channel, dir.resolve("images"))
          .onFailure(failure -> failExplained(failure, Code.CONNECTION_LOST)));
      default -> {
        return false;
      }
    }
    return true;
  }

  private void relayPages(IncomingChannel pages) {
    pagesChannel = pages;
    pages.pause();
    pageServerPort
        .compose(port -> PageServerConnector.connect(vertx, deps.localHost(), port, PAGE_SERVER_CONNECT_MILLIS))
        .onSuccess(socket -> {
          // a roomier queue than the socket default (64 KiB) keeps the page stream from stalling on
          // every few frames; still bounded, and credit stops the source when the page server is slow
          socket.setWriteQueueMaxSize(PAGE_SERVER_WRITE_QUEUE);
          SocketPipes.toSocket(pages, socket).onComplete(pagesReceived);
          session.connection().openChannel(Channels.PAGES_REPLY, new JsonObject())
              .onSuccess(reply -> socket.pipeTo(reply))
              .onFailure(pagesReceived::tryFail);
        })
        .onFailure(failure -> {
          pages.reset(ProtocolError.CANCELLED, "page server unavailable");
          pagesReceived.tryFail(new MigrationFailure.Exception(Code.PAGE_SERVER_FAILED, failure.getMessage()));
        });
    pagesReceived.future().onFailure(failure -> failExplained(failure, Code.CONNECTION_LOST));
  }

  /** The result naming the workload restored here. */
  protected MigrationResult restored(Workload workload) {
    return MigrationResult.restored(workload.id(), session.status().timing("restoreMs"));
  }

  /** Every image file arrived. */
  protected Future<Void> imagesReceived() {
    return Future.all(images).mapEmpty();
  }

  /** Every image file and every page arrived, and the page server ended well. */
  protected Future<Void> checkpointReceived() {
    return imagesReceived().compose(ignored -> pagesReceived.future())
        .compose(ignored -> pageServerExit.timeout(PAGE_SERVER_EXIT_MILLIS, TimeUnit.MILLISECONDS))
        .compose(code -> code == 0 ? Future.succeededFuture() : Future.failedFuture(
            new MigrationFailure.Exception(Code.PAGE_SERVER_FAILED, "criu page-server failed (exit " + code
                + "): " + CriuPageServer.errors(dir))));
  }

  @Override
  public void countBytes(MigrationStatus status) {
    if (pagesChannel != null) {
      status.bytes("pages", pagesChannel.bytesReceived());
    }
  }

  /** Stops the page server if it still runs (blocking). */
  @Override
  public void release(boolean failed) {
    Process started;
    synchronized (this) {
      released = true;
      started = pageServer;
    }
    if (started != null && started.isAlive()) {
      Tether.kill(started, 5_000);
    }
  }
}
