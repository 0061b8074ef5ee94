package io.ums.agent.migration;

import io.ums.agent.dataplane.LazyPageChannels;
import io.ums.agent.dataplane.PostCopyDestination;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.workload.Workload;
import io.ums.protocol.IncomingChannel;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every post-copy destination shares, whatever it restores (agent/POSTCOPY.md): the daemon's page-server
 * socket listens before the restore, the page channel and the small images arrive, and once the workload runs
 * its result goes to the source only when every page arrived (so that the source kills its frozen copy only
 * then), carrying {@code postCopyMs} and the pages served on demand and pushed. A page stream that breaks
 * first fences the workload (killed before the daemon is let go); it is removed and the session fails with
 * POST_COPY_BROKEN. A subclass restores with {@link #postCopy} ({@link PostCopyDestination#restore}).
 */
abstract class LazyRestoreDestination extends SessionDestination {
  private static final Logger LOG = LoggerFactory.getLogger(LazyRestoreDestination.class);

  protected final List<Future<Void>> images = new ArrayList<>();
  protected Future<PostCopyDestination> accepted;
  protected PostCopyDestination postCopy;

  LazyRestoreDestination(ReceiveSession session) {
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
          .onFailure(failure -> failExplained(failure, Code.CONNECTION_LOST)));
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

  /** The workload runs here; its result goes to the source once every page arrived. */
  protected Future<MigrationResult> awaitLastPage(Workload workload) {
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

  /**
   * A session that ended before the daemon finished: the workload (if restored) is killed before the daemon.
   * Waits first for {@link #attached()}'s worker: a source that leaves at once (a refusal before the freeze)
   * ends the session while that worker may still be making the images directory and opening the daemon's
   * port; the session's directory would then be removed before it is made again, and stay.
   */
  @Override
  public Future<Void> quiesce() {
    Future<PostCopyDestination> settled = accepted == null ? Future.succeededFuture() : accepted.otherwiseEmpty();
    return settled.compose(opened -> opened == null || opened.completion().isComplete()
        ? Future.succeededFuture() : opened.discard());
  }

  @Override
  public void countBytes(MigrationStatus status) {
    if (postCopy != null) {
      status.bytes("pages", postCopy.pagesBytes());
    }
  }
}
