package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.agent.kubelet.KubeletArchives;
import io.ums.agent.kubelet.KubeletClient;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pod's container copied through its kubelet's checkpoint API (interface kubelet-copy), the source side: the
 * kubelet checkpoints the container (which goes on running; where the node's runtime leaves checkpointed
 * containers stopped, {@code afterCheckpoint} lets it run on) while the data
 * connection opens, and the archive it writes streams from the file into one channel to the destination, which
 * turns it into a checkpoint image: from the moment the file appears, while the kubelet's runtime still writes
 * it, to its length when the kubelet answers ({@link GrowingFile}). Nothing to commit or roll back: a failed migration
 * ends FAILED with the container running where it was. The archive holds the container's memory: it is
 * deleted in every outcome, also when it arrives after the migration was given up.
 */
final class KubeletSource implements SourceBackend {
  private static final Logger LOG = LoggerFactory.getLogger(KubeletSource.class);
  private static final String ARCHIVE_CLAIMS = "kubelet-archives";

  private final SourceSession session;
  private final Vertx vertx;
  private final KubeletTarget target;
  private final boolean keep;
  private final KubeletClient kubelet;
  private final KubeletArchives archives;
  private final java.util.function.Supplier<Future<?>> afterCheckpoint;
  private Path archive;
  private long archiveLength;
  /** The archive as it is sent: found while the kubelet's runtime wrote it, or once the kubelet answered. */
  private GrowingFile growing;
  private Future<Void> sending;
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

  /**
   * The kubelet's checkpoint, found in the agent's mount of the kubelet's checkpoint directory. Its archive is
   * sent while the kubelet's runtime still writes it (the last step of the checkpoint): it is found as a new file
   * of the container's in the directory, and read as it grows until the kubelet answers with its name, when it is
   * complete ({@link GrowingFile}).
   */
  @Override
  public Future<Void> prepare() {
    MigrationStatus status = session.status();
    status.phase(MigrationPhase.CHECKPOINTING);
    LOG.info("migration {} CHECKPOINTING: POST /checkpoint/{} on the kubelet", session.id(), target);
    long started = System.nanoTime();
    return vertx.executeBlocking(() -> archives.archivesOf(target.namespace(), target.pod(), target.container()),
            false)
        .compose(earlier -> {
          Future<String> answered = kubelet.checkpoint(target.namespace(), target.pod(), target.container());
          watchForArchive(earlier, answered, started);
          return answered;
        })
        .compose(reported -> afterCheckpoint.get().map(reported))
        .compose(reported -> {
          boolean tailing = growing != null; // settled: the watcher starts nothing once the kubelet answered
          return vertx.executeBlocking(() -> {
            Path local = archives.locate(reported);
            if (!tailing) {
              archives.claim(session.id(), local);
            }
            return new Located(local, Files.size(local));
          }, false);
        })
        .map(located -> {
          Path local = located.file();
          long length = located.length();
          // the kubelet's runtime froze the container at most this long; a copy's runs on afterwards
          status.timing("dumpMs", MigrationEvents.millis(started, System.nanoTime()));
          status.timing("freezeMs", status.timing("dumpMs"));
          if (growing != null && !local.equals(archive)) {
            throw new MigrationFailure.Exception(MigrationFailure.Code.KUBELET_FAILED, "the kubelet wrote "
                + local.getFileName() + ", not " + archive.getFileName() + " that was being sent");
          }
          if (growing == null) {
            archive = local;
            session.closeOnFinish(this::deleteArchive);
          }
          archiveLength = length;
          if (growing != null) {
            growing.complete(length);
          }
          LOG.info("migration {}: the kubelet's checkpoint took {} ms; {} bytes of its {}-byte archive were sent"
              + " meanwhile", session.id(), status.timing("dumpMs"), growing == null ? 0 : growing.position(), length);
          return null;
        })
        .onFailure(failure -> {
          if (growing != null) {
            growing.stop(failure);
          }
        })
        .mapEmpty();
  }

  /** The archive the kubelet answered with, and its length then (complete). */
  private record Located(Path file, long length) {}

  /**
   * Polls the checkpoint directory for the container's new archive until the kubelet answered; once it is there
   * it is claimed and sent as it grows. An archive found only with the answer is sent whole by {@link #send}.
   */
  private void watchForArchive(Set<Path> earlier, Future<String> answered, long started) {
    if (answered.isComplete() || session.finishing()) {
      return;
    }
    vertx.executeBlocking(() -> {
      Set<Path> now = archives.archivesOf(target.namespace(), target.pod(), target.container());
      now.removeAll(earlier);
      if (now.size() != 1) {
        return null;
      }
      Path found = now.iterator().next();
      archives.claim(session.id(), found);
      return found;
    }, false).onComplete(found -> {
      if (answered.isComplete()) {
        return; // prepare() sends the archive whole (a claim made here names the same file)
      }
      if (found.failed() || found.result() == null) {
        if (found.failed()) {
          LOG.warn("migration {}: looking for the checkpoint archive: {}", session.id(), found.cause().getMessage());
        }
        vertx.setTimer(GrowingFile.POLL_MILLIS, fired -> watchForArchive(earlier, answered, started));
        return;
      }
      archive = found.result();
      session.closeOnFinish(this::deleteArchive);
      growing = new GrowingFile(vertx, archive);
      session.closeOnFinish(() -> {
        growing.stop(new IllegalStateException("the migration ended"));
        return Future.succeededFuture();
      });
      LOG.info("migration {}: sending {} as the kubelet's runtime writes it, {} ms into the checkpoint",
          session.id(), archive.getFileName(), MigrationEvents.millis(started, System.nanoTime()));
      sending = session.connected().compose(connection -> sendArchive(connection, growing, null));
    });
  }

  @Override
  public Future<Void> checkpoint() {
    return Future.succeededFuture();
  }

  /** The rest of the archive (all of it if the kubelet answered before it was found), with backpressure. */
  @Override
  public Future<RestoreManifest> send() {
    MigrationStatus status = session.status();
    status.phase(MigrationPhase.TRANSFERRING);
    long transferStartNanos = System.nanoTime();
    LOG.info("migration {} TRANSFERRING: {} ({} bytes) after a {} ms checkpoint", session.id(),
        archive.getFileName(), archiveLength, status.timing("dumpMs"));
    if (growing == null) {
      growing = new GrowingFile(vertx, archive);
      sending = sendArchive(session.connection(), growing, archiveLength);
    }
    growing.complete(archiveLength);
    return sending.map(ignored -> {
      countBytes(status);
      status.timing("transferMs", MigrationEvents.millis(transferStartNanos, System.nanoTime()));
      return RestoreManifest.forKubelet(session.id(), session.deps().node(), target,
          archiveChannel.bytesWritten(), keep);
    });
  }

  /** One channel for the archive; {@code size} when it is known before its first byte goes (else it ends it). */
  private Future<Void> sendArchive(UmsConnection connection, GrowingFile file, Long size) {
    JsonObject metadata = new JsonObject().put("name", archive.getFileName().toString());
    if (size != null) {
      metadata.put("size", size);
    }
    long openingNanos = System.nanoTime();
    return connection.openChannel(Channels.KUBELET_ARCHIVE, metadata).compose(channel -> {
      archiveChannel = channel;
      long openedNanos = System.nanoTime();
      MeteredWriteStream metered = new MeteredWriteStream(channel);
      return file.sendTo(metered).compose(sent -> channel.end()).onSuccess(ignored -> LOG.info("migration {}: the"
          + " channel opened in {} ms, the archive's bytes were written into it in {} ms (of which {} ms waiting"
          + " for the destination's window), ended {} ms after the open", session.id(),
          millis(openingNanos, openedNanos), metered.writingNanos() / 1_000_000, metered.fullNanos() / 1_000_000,
          millis(openedNanos, System.nanoTime())));
    });
  }

  private static long millis(long fromNanos, long toNanos) {
    return MigrationEvents.millis(fromNanos, toNanos);
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
    if (growing != null) {
      growing.stop(new MigrationFailure.Exception(failure));
    }
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
