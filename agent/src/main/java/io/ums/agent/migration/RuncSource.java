package io.ums.agent.migration;

import io.ums.agent.container.ContainerWorkloads;
import io.ums.agent.dataplane.DumpPageSocket;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.workload.Workload;
import io.ums.protocol.IncomingChannel;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A runc container (interface runc), the source side. After the image offer: freeze the container (cgroup
 * freezer) and {@code runc checkpoint --leave-running} with CRIU's page server pointed at a local socket
 * relayed into the "pages" channel, exactly as for a process; then CRIU's image files, runc's
 * {@code descriptors.json} and the writable layer's diff. Roll back: thaw the frozen source, which never
 * stopped existing.
 */
final class RuncSource extends ContainerSource {
  private static final Logger LOG = LoggerFactory.getLogger(RuncSource.class);

  private DumpPageSocket pageSocket;
  private PageStreamRelay pages;
  /** The running (or finished) checkpoint; null before it started. Succeeded = the container is frozen. */
  private Future<Void> checkpointRun;

  RuncSource(SourceSession session, Workload workload, boolean keep, ContainerWorkloads containers) {
    super(session, workload, keep, containers);
  }

  @Override
  protected Future<Void> checkpointWithRuntime() {
    return DumpPageSocket.listen(vertx, session.deps().localHost()).compose(socket -> {
      pageSocket = socket;
      session.closeOnFinish(socket::close);
      if (session.finishing()) {
        return Future.failedFuture(new MigrationFailure.Exception(Code.ABORTED, "migration already ended"));
      }
      pages = new PageStreamRelay(session.connection(), workload.id());
      pageSocket.accepted().onSuccess(pages::dumpConnected);
      pages.sent().onFailure(failure -> session.fail(Failures.classify(failure, Code.CONNECTION_LOST)));
      session.status().phase(MigrationPhase.CHECKPOINTING);
      LOG.info("migration {} CHECKPOINTING: runc checkpoint of container {}", session.id(), workload.id());
      return keep ? Future.<Void>succeededFuture() : vertx.executeBlocking(() -> {
        // before the freeze: an agent killed from now on leaves a record its next run settles
        SourceRecords.recordContainer(session, workload);
        return null;
      }, false);
    }).compose(recorded -> {
      freezeStartNanos = System.nanoTime();
      checkpointRun = containers.freezeAndCheckpoint(workload.id(), session.dir().resolve("images"),
          session.dir().resolve("criu-work"), session.deps().localHost() + ":" + pageSocket.port());
      return checkpointRun
          .recover(failure -> Future.failedFuture(new MigrationFailure.Exception(Code.DUMP_FAILED,
              failure.getMessage())))
          .onSuccess(ignored -> {
            session.status().timing("dumpMs", MigrationEvents.millis(freezeStartNanos, System.nanoTime()));
            session.status().timing("freezeMs", MigrationEvents.millis(freezeStartNanos, pages.connectedNanos()));
          });
    });
  }

  @Override
  public boolean onPeerChannel(IncomingChannel channel) {
    if (Channels.PAGES_REPLY.equals(channel.kind()) && pages != null) {
      pages.replyChannel(channel);
      return true;
    }
    return super.onPeerChannel(channel);
  }

  /** After the dump: CRIU's image files, runc's descriptors, the writable layer. */
  @Override
  public Future<RestoreManifest> send() {
    session.status().phase(MigrationPhase.TRANSFERRING);
    return pages.sent()
        .compose(ignored -> sendRuncCheckpointFiles())
        .compose(ignored -> keep ? Future.<Void>succeededFuture() : vertx.executeBlocking(() -> {
          // the restore request goes next: from now on only the destination's verdict may thaw the source
          session.deps().stoppedSources().awaitVerdict(session.id());
          return null;
        }, false))
        .map(ignored -> {
          countBytes(session.status());
          session.status().timing("transferMs", MigrationEvents.millis(pages.connectedNanos(), System.nanoTime()));
          return manifest();
        });
  }

  @Override
  protected Future<Void> resumeSource() {
    return containers.thaw(workload.id());
  }

  /**
   * A checkpoint still running ends when its page stream breaks (it thaws the container itself when it
   * fails); one that completed left the container frozen.
   */
  @Override
  public Future<MigrationPhase> rollBack(MigrationFailure failure) {
    layers.reset(failure.message());
    if (pages != null) {
      pages.reset(failure.message());
    }
    if (pageSocket != null) {
      pageSocket.close();  // breaks a running dump's page stream, so that the checkpoint ends
    }
    Future<Void> resumed = checkpointRun == null ? Future.succeededFuture()
        : checkpointRun.transform(dumped -> dumped.succeeded() ? resumeSource() : Future.succeededFuture());
    return rolledBack(resumed);
  }

  @Override
  public void countBytes(MigrationStatus status) {
    countBytes(status, pages == null ? 0 : pages.bytesWritten());
  }
}
