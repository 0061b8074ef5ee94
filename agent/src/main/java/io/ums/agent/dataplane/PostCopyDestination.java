package io.ums.agent.dataplane;

import io.ums.agent.criu.CriuLazyPages;
import io.ums.agent.criu.CriuLazyRestore;
import io.ums.agent.criu.CriuRestore;
import io.ums.agent.criu.CriuRunner;
import io.ums.agent.criu.LazyPagemap;
import io.ums.agent.criu.LazyPagesGuard;
import io.ums.agent.criu.LazyPagesLog;
import io.ums.agent.criu.ProcessTree;
import io.ums.agent.criu.Tether;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The destination half of a post-copy migration of a process tree, as one backend: {@link #accept} the
 * page channels, {@link #restore()} once the image files are in ({@code criu lazy-pages} daemon, then
 * {@code criu restore --lazy-pages}: the tree runs at once), then {@link #completion()}: the last page
 * arrived, with what it took.
 *
 * <p>Fencing: if the page stream breaks before the last page (link cut, source gone, connection lost),
 * the restored tree is killed at once, and only then is the daemon let go (see
 * {@link LazyPagesDaemonSocket}): a tree with missing pages never runs on, and the source may resume
 * from its freeze point. Lives on the event loop that created it; blocking steps run on workers.
 */
public final class PostCopyDestination {
  /**
   * @param relayHost where the daemon's page-server socket listens (reachable from the daemon's netns)
   */
  public record Settings(CriuRunner criu, Path imagesDir, Path workDir, String relayHost,
                         CriuRestore.Options restore, long restoreTimeoutMillis, ReadAhead readAhead) {
    public Settings(CriuRunner criu, Path imagesDir, Path workDir, String relayHost, CriuRestore.Options restore,
                    long restoreTimeoutMillis) {
      this(criu, imagesDir, workDir, relayHost, restore, restoreTimeoutMillis, ReadAhead.DEFAULT);
    }
  }

  /**
   * How far the destination asks for pages ahead of the daemon (see {@link LazyPagePrefetch}): at most
   * {@code windowBytes} asked and not yet taken, at most {@code flyingBytes} of it still on its way (a page
   * fault waits behind that much at the source), in requests of {@code chunkBytes}; a window of 0 turns
   * read-ahead off (the daemon's own pace: one request of at most 4 MiB at a time).
   */
  public record ReadAhead(long windowBytes, long chunkBytes, long flyingBytes) {
    public static final ReadAhead DEFAULT = new ReadAhead(
        Long.getLong("ums.postcopy.readAheadKiB", 4 * 1024) * 1024,
        Long.getLong("ums.postcopy.readAheadChunkKiB", 1024) * 1024,
        Long.getLong("ums.postcopy.readAheadFlyingKiB", 4 * 1024) * 1024);
    public static final ReadAhead OFF = new ReadAhead(0, 0, 0);
  }

  /**
   * @param restoredNanos when {@code criu restore} returned (the tree runs)
   * @param lastPageNanos when the daemon said it had every page
   */
  /** @param readAheadBytes bytes the daemon took from what this agent asked for ahead of it */
  public record Completion(long restoredNanos, long lastPageNanos, long bytes, long requests,
                           LazyPagesLog.Stats stats, long readAheadBytes) {
    public long postCopyMillis() {
      return TimeUnit.NANOSECONDS.toMillis(lastPageNanos - restoredNanos);
    }
  }

  /** The page stream broke before the last page; the restored tree was killed. */
  public static final class Fenced extends RuntimeException {
    private final long ranMillis;

    Fenced(String why, long ranMillis) {
      super("post-copy broke before the last page (" + why + "); the destination's copy was killed after "
          + ranMillis + " ms");
      this.ranMillis = ranMillis;
    }

    /** How long the destination's copy ran: the work lost when the source resumes. */
    public long ranMillis() {
      return ranMillis;
    }
  }

  private final Vertx vertx;
  private final Settings settings;
  private final LazyPagesDaemonSocket socket;
  private final Promise<Completion> completion = Promise.promise();
  private Process daemon;
  private final LazyPagesGuard guard;
  private volatile long restoredPid = -1;
  private volatile long restoredNanos = -1;
  private boolean ended;

  private PostCopyDestination(Vertx vertx, Settings settings, LazyPagesDaemonSocket socket, LazyPagesGuard guard) {
    this.vertx = vertx;
    this.settings = settings;
    this.socket = socket;
    this.guard = guard;
  }

  /**
   * Listens for the daemon and relays it over {@code connection} once it connects; the daemon will connect
   * through a {@link LazyPagesGuard}, started now: long before the restore, whose downtime its start would
   * otherwise lengthen.
   */
  public static Future<PostCopyDestination> accept(Vertx vertx, Settings settings, UmsConnection connection,
                                                   JsonObject metadata) {
    return LazyPagesDaemonSocket.listen(vertx, settings.relayHost()).compose(socket -> vertx.executeBlocking(
            () -> LazyPagesGuard.start(settings.workDir(), settings.relayHost(), socket.port()), false)
        .recover(failure -> socket.close().transform(ignored -> Future.<LazyPagesGuard>failedFuture(failure)))
        .map(guard -> {
          socket.relay(connection, metadata);
          PostCopyDestination destination = new PostCopyDestination(vertx, settings, socket, guard);
          socket.allPagesIn().onComplete(ignored -> destination.pagesEnded());
          return destination;
        }));
  }

  /** The source's {@link LazyPageChannels#PAGES} channel. */
  public void pagesChannel(IncomingChannel channel) {
    socket.pagesChannel(channel);
  }

  /** The migration connection is gone: fences the tree unless every page is already in. */
  public void connectionLost(String why) {
    socket.connectionLost(why);
  }

  /** Starts the daemon and restores the tree, which runs on return; completes with its root's PID. */
  public Future<Long> restore() {
    return restore(settings.restore());
  }

  /** As {@link #restore()}, with restore options known only now (the agent's: from the restore request). */
  public Future<Long> restore(CriuRestore.Options restore) {
    return restore(restore, List.of());
  }

  /**
   * As {@link #restore(CriuRestore.Options)}; the daemon outlives the agent until the processes {@code guards}
   * (the agent's {@code RestoreGuard} over this restore) are gone too (see {@code Tether}).
   */
  public Future<Long> restore(CriuRestore.Options restore, List<Long> guards) {
    return restore(restore.workDir().resolve("restored.pid"), guards, () -> vertx.executeBlocking(
        () -> CriuLazyRestore.run(settings.criu(), restore, settings.restoreTimeoutMillis()), false));
  }

  /** As {@link #restore(Path, List, Supplier)} with no guard of the agent's to outlive. */
  public Future<Long> restore(Path pidFile, Supplier<Future<Long>> restoreTree) {
    return restore(pidFile, List.of(), restoreTree);
  }

  /**
   * Starts the daemon, then {@code restoreTree}: a {@code --lazy-pages} restore by any front end (CRIU itself,
   * {@code runc restore --lazy-pages}) with the work directory of {@link Settings#workDir()} (where the
   * daemon's socket is), which writes the root's PID to {@code pidFile} and completes with it. The daemon
   * outlives the agent until the processes {@code guards} are gone too.
   */
  public Future<Long> restore(Path pidFile, List<Long> guards, Supplier<Future<Long>> restoreTree) {
    // without the lazy ranges there is no read-ahead, only the daemon's own pace
    return vertx.executeBlocking(() -> LazyPagemap.read(settings.imagesDir()), false)
        .recover(unreadable -> Future.succeededFuture(LazyPagemap.empty())).compose(pagemap -> {
      socket.readAhead(pagemap, settings.readAhead().windowBytes(), settings.readAhead().chunkBytes(),
          settings.readAhead().flyingBytes());
      return startAndRestore(pidFile, guards, restoreTree);
    });
  }

  private Future<Long> startAndRestore(Path pidFile, List<Long> guards, Supplier<Future<Long>> restoreTree) {
    return vertx.executeBlocking(() -> {
      // the daemon's page-server connection goes through a guard that outlives this agent (see LazyPagesGuard)
      guard.restoredPidFile(pidFile);
      List<Long> outlived = new ArrayList<>(guards);
      outlived.add(guard.process().pid());
      daemon = CriuLazyPages.start(settings.criu(), settings.imagesDir(), settings.workDir(),
          settings.relayHost(), guard.port(), 10_000, outlived);
      return null;
    }, false).compose(started -> restoreTree.get()).map(pid -> {
      restoredNanos = System.nanoTime();
      return pid;
    }).onComplete(result -> {
      if (result.succeeded()) {
        restoredPid = result.result();
        if (ended) {
          pagesEnded();
        }
      } else {
        completion.tryFail(result.cause());
        discard();
      }
    });
  }

  private void pagesEnded() {
    ended = true;
    if (restoredPid < 0) {
      return;
    }
    if (socket.allPagesIn().succeeded()) {
      vertx.executeBlocking(this::waitDaemon, false).onComplete(stats -> {
        socket.close();
        closeGuard();
        completion.tryComplete(new Completion(restoredNanos, socket.allPagesInNanos(), socket.pagesBytes(),
            socket.requestsSent(), stats.succeeded() ? stats.result() : new LazyPagesLog.Stats(-1, -1, -1),
            socket.readAheadBytes()));
      });
    } else {
      String why = socket.allPagesIn().cause().getMessage();
      vertx.executeBlocking(() -> fence(), false).onComplete(ranMillis -> {
        socket.close();
        closeGuard();
        completion.tryFail(new Fenced(why, ranMillis.succeeded() ? ranMillis.result() : -1));
      });
    }
  }

  private void closeGuard() {
    vertx.executeBlocking(() -> {
      guard.close();
      return null;
    }, false);
  }

  /** The guard between the daemon and this agent (tests play the agent's death). */
  public LazyPagesGuard guard() {
    return guard;
  }

  /** Kills the restored tree and waits until it is gone; returns how long it ran. Blocking. */
  private long fence() throws InterruptedException {
    long ranMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - restoredNanos);
    // the root is the init of its own PID namespace: killing it takes the whole namespace with it
    ProcessTree.signalAll(restoredPid, "KILL");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (ProcessTree.alive(restoredPid) && System.nanoTime() < deadline) {
      Thread.sleep(2);
    }
    return ranMillis;
  }

  private LazyPagesLog.Stats waitDaemon() throws Exception {
    guard.done();
    if (!daemon.waitFor(30, TimeUnit.SECONDS)) {
      Tether.kill(daemon, 5_000);
    }
    return LazyPagesLog.read(settings.workDir().resolve(CriuLazyPages.LOG));
  }

  /** Completes when the last page arrived; fails with {@link Fenced} when the stream broke first. */
  public Future<Completion> completion() {
    return completion.future();
  }

  /** Bytes of pages that reached the daemon so far. */
  public long pagesBytes() {
    return socket.pagesBytes();
  }

  /** The restored tree's root, or -1 before the restore returned. */
  public long restoredPid() {
    return restoredPid;
  }

  /** Drops everything: the tree (if restored) is killed before the daemon goes. Blocking-safe, idempotent. */
  public Future<Void> discard() {
    Future<Long> killed = restoredPid > 0 && !completion.future().succeeded()
        ? vertx.executeBlocking(this::fence, false) : Future.succeededFuture(0L);
    return killed.transform(ignored -> socket.close()).transform(ignored -> vertx.executeBlocking(() -> {
      guard.close();
      if (daemon != null && daemon.isAlive()) {
        Tether.kill(daemon, 5_000);
      }
      return null;
    }, false));
  }
}
