package io.ums.agent.migration;

import io.ums.agent.container.ContainerWorkloads;
import io.ums.agent.container.FifoPump;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.workload.Workload;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A podman container (interface pind), the source side. After the image offer: podman's checkpoint archive
 * (pages, CRIU images, writable layer) streams from a FIFO into one channel as podman writes it; podman
 * stops the container and keeps the checkpoint locally, from which a rollback (or keep) restores it.
 */
final class PodmanSource extends ContainerSource {
  private static final Logger LOG = LoggerFactory.getLogger(PodmanSource.class);

  private OutgoingChannel archiveChannel;
  /** The running (or finished) checkpoint; null before it started. */
  private Future<Void> checkpointRun;

  PodmanSource(SourceSession session, Workload workload, boolean keep, ContainerWorkloads containers) {
    super(session, workload, keep, containers);
  }

  @Override
  protected Future<Void> checkpointWithRuntime() {
    MigrationStatus status = session.status();
    status.phase(MigrationPhase.CHECKPOINTING);
    LOG.info("migration {} CHECKPOINTING: podman checkpoint of container {}", session.id(), workload.id());
    Path fifo = session.dir().resolve("checkpoint.fifo");
    return vertx.executeBlocking(() -> {
          FifoPump.create(fifo);
          if (!keep) {
            // before the checkpoint stops it: an agent killed from now on leaves a record its next run settles
            SourceRecords.recordContainer(session, workload);
          }
          return null;
        }, false)
        .compose(ignored -> session.connection().openChannel(Channels.CHECKPOINT_ARCHIVE, new JsonObject()))
        .compose(channel -> {
          archiveChannel = channel;
          freezeStartNanos = System.nanoTime();
          checkpointRun = containers.podmanCheckpoint(workload.id(), fifo);
          checkpointRun.onFailure(failure -> vertx.executeBlocking(() -> {
            FifoPump.release(fifo);
            return null;
          }, false));
          Future<Long> pumped = FifoPump.pump(vertx, session.context(), fifo, channel, session::finishing);
          return Future.all(checkpointRun, pumped)
              .recover(failure -> Future.failedFuture(new MigrationFailure.Exception(Code.DUMP_FAILED,
                  failure.getMessage())))
              .compose(ignored -> {
                status.timing("dumpMs", MigrationEvents.millis(freezeStartNanos, System.nanoTime()));
                status.timing("freezeMs", 0);
                return channel.end();
              });
        });
  }

  /** The archive carried everything already. */
  @Override
  public Future<RestoreManifest> send() {
    countBytes(session.status());
    session.status().timing("transferMs", MigrationEvents.millis(freezeStartNanos, System.nanoTime()));
    return keep ? Future.succeededFuture(manifest()) : vertx.executeBlocking(() -> {
      // the restore request goes next: from now on only the destination's verdict may restore the source
      session.deps().stoppedSources().awaitVerdict(session.id());
      return manifest();
    }, false);
  }

  @Override
  protected Future<Void> resumeSource() {
    return containers.podmanRollback(workload.id());
  }

  @Override
  public Future<MigrationPhase> rollBack(MigrationFailure failure) {
    layers.reset(failure.message());
    if (archiveChannel != null) {
      archiveChannel.reset(ProtocolError.CANCELLED, failure.message());
    }
    Future<Void> resumed = checkpointRun == null ? Future.succeededFuture()
        : checkpointRun.transform(dumped -> resumeSource());
    return rolledBack(resumed);
  }

  @Override
  public void countBytes(MigrationStatus status) {
    countBytes(status, archiveChannel == null ? 0 : archiveChannel.bytesWritten());
  }
}
