package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.agent.kubelet.KubeletArchives;
import io.ums.agent.kubelet.KubeletClient;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pod's container copied through its kubelet's checkpoint API (interface kubelet-copy), the source side: the
 * kubelet checkpoints the container (which goes on running; where the node's runtime leaves checkpointed
 * containers stopped, {@code afterCheckpoint} lets it run on) while the data
 * connection opens, and the archive it wrote streams from the file straight into one channel to the
 * destination, which turns it into a checkpoint image. Nothing to commit or roll back: a failed migration
 * ends FAILED with the container running where it was. The archive holds the container's memory: it is
 * deleted in every outcome, also when it arrives after the migration was given up.
 */
final class KubeletSource implements SourceBackend {
  private static final Logger LOG = LoggerFactory.getLogger(KubeletSource.class);
  private static final int ARCHIVE_READ_BYTES = 256 * 1024;
  private static final String ARCHIVE_CLAIMS = "kubelet-archives";

  private final SourceSession session;
  private final Vertx vertx;
  private final KubeletTarget target;
  private final boolean keep;
  private final KubeletClient kubelet;
  private final KubeletArchives archives;
  private final java.util.function.Supplier<Future<?>> afterCheckpoint;
  private Path archive;
  private OutgoingChannel archiveChannel;

  /** {@code afterCheckpoint}: what follows the kubelet's answer (a copy's container runs on). */
  KubeletSource(SourceSession session, KubeletTarget target, boolean keep, KubeletClient kubelet,
                java.util.function.Supplier<Future<?>> afterCheckpoint) {
    this.session = session;
    this.vertx = session.deps().vertx();
    this.target = target;
    this.keep = keep;
    this.kubelet = kubelet;
    this.archives = kubeletArchives(session.deps());
    this.afterCheckpoint = afterCheckpoint;
  }

  /** The kubelet's archives as this agent handles them (claims in the work dir). */
  static KubeletArchives kubeletArchives(MigrationDeps deps) {
    return new KubeletArchives(deps.kubelet().checkpointDir(), deps.workDir().resolve(ARCHIVE_CLAIMS));
  }

  /** The kubelet's checkpoint, found in the agent's mount of the kubelet's checkpoint directory. */
  @Override
  public Future<Void> prepare() {
    MigrationStatus status = session.status();
    status.phase(MigrationPhase.CHECKPOINTING);
    LOG.info("migration {} CHECKPOINTING: POST /checkpoint/{} on the kubelet", session.id(), target);
    long started = System.nanoTime();
    return kubelet.checkpoint(target.namespace(), target.pod(), target.container())
        .compose(reported -> afterCheckpoint.get().map(reported))
        .compose(reported -> vertx.executeBlocking(() -> {
          Path local = archives.locate(reported);
          archives.claim(session.id(), local);
          return local;
        }, false))
        .map(local -> {
          archive = local;
          session.closeOnFinish(this::deleteArchive);
          // the kubelet's runtime froze the container at most this long; it runs on afterwards
          status.timing("dumpMs", MigrationEvents.millis(started, System.nanoTime()));
          status.timing("freezeMs", status.timing("dumpMs"));
          return null;
        });
  }

  @Override
  public Future<Void> checkpoint() {
    return Future.succeededFuture();
  }

  /** The archive, with the protocol's backpressure. */
  @Override
  public Future<RestoreManifest> send() {
    MigrationStatus status = session.status();
    status.phase(MigrationPhase.TRANSFERRING);
    long transferStartNanos = System.nanoTime();
    String name = archive.getFileName().toString();
    return vertx.fileSystem().props(archive.toString())
        .compose(props -> {
          LOG.info("migration {} TRANSFERRING: {} ({} bytes) after a {} ms checkpoint", session.id(), name,
              props.size(), status.timing("dumpMs"));
          return vertx.fileSystem().open(archive.toString(), new OpenOptions().setRead(true).setWrite(false))
              .compose(in -> send(in, new JsonObject().put("name", name).put("size", props.size()))
                  .eventually(in::close));
        })
        .map(ignored -> {
          countBytes(status);
          status.timing("transferMs", MigrationEvents.millis(transferStartNanos, System.nanoTime()));
          return RestoreManifest.forKubelet(session.id(), session.deps().node(), target,
              archiveChannel.bytesWritten(), keep);
        });
  }

  private Future<Void> send(AsyncFile in, JsonObject metadata) {
    // AsyncFile reads 8 KiB at a time by default: one worker round trip and one frame each
    in.setReadBufferSize(ARCHIVE_READ_BYTES);
    return session.connection().openChannel(Channels.KUBELET_ARCHIVE, metadata).compose(channel -> {
      archiveChannel = channel;
      return in.pipeTo(channel);
    });
  }

  @Override
  public Future<Void> commit(MigrationResult result) {
    session.status().checkpointImage(result.checkpointImage().orElse(null));
    LOG.info("migration {}: the destination imported {}", session.id(), result.checkpointImage().orElse(null));
    return Future.succeededFuture();
  }

  /** The container never stopped: nothing to bring back. */
  @Override
  public Future<MigrationPhase> rollBack(MigrationFailure failure) {
    LOG.info("migration {}: the container runs on where it was", session.id());
    if (archiveChannel != null) {
      archiveChannel.reset(ProtocolError.CANCELLED, failure.message());
    }
    return Future.succeededFuture(MigrationPhase.FAILED);
  }

  @Override
  public void countBytes(MigrationStatus status) {
    long sent = archiveChannel == null ? 0 : archiveChannel.bytesWritten();
    status.bytes("images", sent);
    status.bytes("raw", sent);
  }

  private Future<Void> deleteArchive() {
    Path file = archive;
    return vertx.executeBlocking(() -> {
      if (!archives.delete(session.id(), file)) {
        LOG.warn("migration {}: could not delete the checkpoint archive {}", session.id(), file);
      }
      return null;
    }, false);
  }
}
