package io.ums.agent.migration;

import io.ums.agent.criu.CriuRestore;
import io.ums.agent.criu.RestoreGuard;
import io.ums.agent.criu.TcpConnections;
import io.ums.agent.dataplane.LazyPageChannels;
import io.ums.agent.dataplane.PostCopyDestination;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.workload.OutputRelay;
import io.ums.agent.workload.WorkingDirectories;
import io.ums.agent.workload.Workload;
import io.ums.agent.workload.WorkloadSpec;
import io.ums.protocol.IncomingChannel;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A process tree moved post-copy, the destination side: adapts {@link PostCopyDestination} to the driver's
 * steps (agent/POSTCOPY.md). The small images arrive as files; the restore starts the lazy-pages daemon and
 * {@code criu restore --lazy-pages}; the workload is registered and runs at once; the result goes to the
 * source only once every page arrived (so that the source kills its frozen copy only then), carrying
 * {@code postCopyMs} and the pages served on demand and pushed. A page stream that breaks first fences the
 * tree (killed before the daemon is let go) and the session fails with POST_COPY_BROKEN.
 */
final class PostCopyProcessDestination extends SessionDestination {
  private static final Logger LOG = LoggerFactory.getLogger(PostCopyProcessDestination.class);

  private final List<Future<Void>> images = new ArrayList<>();
  private Future<PostCopyDestination> accepted;
  private PostCopyDestination postCopy;
  /** Kills the restored tree if this agent dies before the source heard that it runs; disarmed in release. */
  private RestoreGuard restoreGuard;

  PostCopyProcessDestination(ReceiveSession session) {
    super(session);
  }

  /** The daemon's page-server socket listens before the restore: its relay needs the connection. */
  @Override
  public void attached() {
    PostCopyDestination.Settings settings = new PostCopyDestination.Settings(deps.criu(), dir.resolve("images"),
        dir, deps.localHost(), null, deps.settings().restoreTimeout().toMillis());
    accepted = vertx.executeBlocking(() -> Files.createDirectories(dir.resolve("images")), false)
        .compose(ignored -> PostCopyDestination.accept(vertx, settings, session.connection(),
            new JsonObject().put("session", session.id())))
        .onSuccess(opened -> postCopy = opened)
        .onFailure(failure -> session.fail(MigrationFailure.of(Code.PAGE_SERVER_FAILED,
            "cannot listen for the lazy-pages daemon: " + failure.getMessage())));
  }

  @Override
  public boolean accept(IncomingChannel channel) {
    switch (channel.kind()) {
      case LazyPageChannels.PAGES -> {
        channel.pause();
        accepted.onSuccess(opened -> opened.pagesChannel(channel));
      }
      case Channels.IMAGE -> images.add(ImageFiles.receive(vertx, channel, dir.resolve("images"))
          .onFailure(failure -> session.fail(Failures.classify(failure, Code.CONNECTION_LOST))));
      default -> {
        return false;
      }
    }
    return true;
  }

  @Override
  public void connectionLost(String why) {
    if (postCopy != null) {
      postCopy.connectionLost(why);
    }
  }

  @Override
  public Future<MigrationResult> restore(RestoreManifest manifest) {
    String migrationId = beginRestore(manifest);
    WorkloadSpec spec = manifest.specOrEmpty();
    return Future.all(images)
        .compose(ignored -> beforeRestore())
        .compose(ignored -> accepted)
        .compose(ignored -> {
          session.status().phase(MigrationPhase.RESTORING);
          LOG.info("session {} RESTORING (post-copy): {} of migration {}", session.id(), spec.name(), migrationId);
          return restoreWorkload(spec, migrationId, relay -> runRestore(relay, manifest));
        })
        .compose(this::awaitLastPage);
  }

  private Future<Long> runRestore(OutputRelay relay, RestoreManifest manifest) {
    long started = System.nanoTime();
    return vertx.executeBlocking(() -> {
      requireListenAddresses(manifest);
      if (manifest.cwd().isPresent()) {
        WorkingDirectories.recreate(manifest.cwd().get());
      }
      // as for stop-and-copy: an agent dying before the source heard the copy runs (also during the
      // restore, before CRIU wrote its pidfile, which the lazy-pages guard needs) takes the copy with it
      restoreGuard = RestoreGuard.arm(CriuRestore.pidFile(dir));
      return new CriuRestore.Options(dir.resolve("images"), dir, manifest.outputPipeInode(), relay.writeEnd(),
          TcpConnections.allLocal(manifest.tcpLocalAddresses()));
    }, false).compose(options -> postCopy.restore(options, List.of(restoreGuard.pid()))).map(pid -> {
      session.status().timing("restoreMs", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
      return pid;
    });
  }

  /** The workload runs here; its result goes to the source once every page arrived. */
  private Future<MigrationResult> awaitLastPage(Workload workload) {
    session.status().destinationWorkloadId(workload.id());
    session.status().postCopy(new JsonObject().put("state", "post-copy: running here, pages arriving"));
    LOG.info("session {}: workload {} runs (post-copy), pages arriving", session.id(), workload.id());
    return postCopy.completion().map(done -> {
      JsonObject figures = new JsonObject().put("postCopyMs", done.postCopyMillis())
          .put("pagesOnDemand", done.stats().faults()).put("pagesPushed", done.stats().pushedPages())
          .put("pageBytes", done.bytes()).put("requests", done.requests())
          .put("readAheadBytes", done.readAheadBytes());
      session.status().timing("postCopyMs", done.postCopyMillis());
      session.status().postCopy(figures.copy().put("state", "done: every page arrived"));
      return MigrationResult.restored(workload.id(), session.status().timing("restoreMs")).withPostCopy(figures);
    }).recover(failure -> {
      String why = failure instanceof PostCopyDestination.Fenced fenced ? fenced.getMessage()
          : "post-copy failed: " + failure.getMessage();
      session.status().postCopy(new JsonObject().put("state", "fenced").put("outcome", why));
      return deps.workloads().remove(workload.id()).otherwiseEmpty().compose(removed -> Future.failedFuture(
          new MigrationFailure.Exception(Code.POST_COPY_BROKEN, why)));
    });
  }

  /** A session that ended before the daemon finished: the tree (if restored) is killed before the daemon. */
  @Override
  public Future<Void> quiesce() {
    return postCopy == null || postCopy.completion().isComplete() ? Future.succeededFuture() : postCopy.discard();
  }

  @Override
  public void release(boolean failed) {
    if (restoreGuard != null) {
      restoreGuard.disarm(); // handed over, or removed (fenced) by this agent itself
    }
  }

  @Override
  public void countBytes(MigrationStatus status) {
    if (postCopy != null) {
      status.bytes("pages", postCopy.pagesBytes());
    }
  }
}
