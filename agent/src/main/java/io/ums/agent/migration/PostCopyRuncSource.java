package io.ums.agent.migration;

import io.ums.agent.container.ContainerWorkloads;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.workload.Workload;
import io.ums.protocol.IncomingChannel;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A runc container moved post-copy (interface runc, mode post-copy), the source side: the image offered
 * first as for stop-and-copy ({@link ContainerSource}); then {@link RuncLazyCheckpoint} pauses the container
 * and writes its small images, which are sent with runc's descriptors and the writable layer; the
 * destination's page requests arriving commit and CRIU serves the memory; once the destination has every
 * page the paused container is removed. Rollback and fencing as for a process tree ({@link PostCopySourceSteps});
 * resuming is a thaw of the paused container.
 */
final class PostCopyRuncSource extends ContainerSource {
  private static final Logger LOG = LoggerFactory.getLogger(PostCopyRuncSource.class);
  private static final long PAGE_SERVER_CONNECT_MILLIS = 10_000;

  private final PostCopySourceSteps steps;
  private Future<RuncLazyCheckpoint> starting;
  private RuncLazyCheckpoint checkpoint;

  PostCopyRuncSource(SourceSession session, Workload workload, ContainerWorkloads containers) {
    super(session, workload, false, containers);
    this.steps = new PostCopySourceSteps(session);
  }

  @Override
  protected Future<Void> checkpointWithRuntime() {
    session.status().phase(MigrationPhase.CHECKPOINTING);
    LOG.info("migration {} CHECKPOINTING: runc checkpoint --lazy-pages of container {}", session.id(), workload.id());
    starting = vertx.executeBlocking(() -> {
      // before the freeze: an agent killed from now on leaves a record its next run settles (StoppedSources)
      SourceRecords.recordContainer(session, workload);
      return null;
    }, false).compose(recorded -> {
      steps.freezing();
      freezeStartNanos = steps.freezeStartNanos();
      return RuncLazyCheckpoint.start(vertx, containers, workload.id(), session.dir().resolve("images"),
          session.dir().resolve("criu-work"), session.deps().localHost(), PAGE_SERVER_CONNECT_MILLIS);
    });
    return starting
        .compose(started -> {
          checkpoint = started;
          return started.dumped();
        })
        .recover(failure -> Future.failedFuture(new MigrationFailure.Exception(Code.DUMP_FAILED,
            failure.getMessage())))
        .onSuccess(ignored -> session.status().timing("dumpMs",
            MigrationEvents.millis(freezeStartNanos, System.nanoTime())));
  }

  @Override
  public boolean onPeerChannel(IncomingChannel channel) {
    return steps.onPeerChannel(channel, checkpoint) || super.onPeerChannel(channel);
  }

  /** CRIU's image files (no memory), runc's descriptors, the writable layer. */
  @Override
  public Future<RestoreManifest> send() {
    session.status().phase(MigrationPhase.TRANSFERRING);
    long started = System.nanoTime();
    return sendRuncCheckpointFiles().compose(ignored -> vertx.executeBlocking(() -> {
      // the restore request goes next: from now on only the destination's verdict may thaw the source
      session.deps().stoppedSources().awaitVerdict(session.id());
      return null;
    }, false)).map(ignored -> {
      countBytes(session.status());
      session.status().timing("transferMs", MigrationEvents.millis(started, System.nanoTime()));
      return manifest();
    });
  }

  /** The destination has every page: the paused container is garbage. */
  @Override
  public Future<Void> commit(MigrationResult result) {
    steps.committed(result);
    return checkpoint.finish().eventually(() -> {
      session.deps().workloads().endMigration(workload.id());
      return session.deps().workloads().remove(workload.id());
    });
  }

  @Override
  protected Future<Void> resumeSource() {
    return containers.thaw(workload.id());
  }

  @Override
  public Future<MigrationPhase> rollBack(MigrationFailure failure) {
    layers.reset(failure.message());
    // a checkpoint that could not start thawed the container itself
    Future<RuncLazyCheckpoint> started = starting == null ? Future.succeededFuture() : starting.otherwiseEmpty();
    return rolledBack(started.compose(ignored -> steps.rollBack(failure, checkpoint, () -> Future.succeededFuture(true)))
        .compose(running -> running ? Future.succeededFuture()
            : Future.failedFuture("the paused container did not resume")));
  }

  @Override
  public void countBytes(MigrationStatus status) {
    countBytes(status, checkpoint == null ? 0 : checkpoint.bytesServed());
  }
}
