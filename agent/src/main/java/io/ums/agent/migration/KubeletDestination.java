package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.image.CheckpointImages;
import io.ums.agent.image.ImageStoreException;
import io.ums.agent.image.StreamedCheckpointImport;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.ProtocolError;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pod's container moved through the kubelet checkpoint API (interface kubelet, POST /v1/receive kind
 * "checkpoint"), the destination side. Into a containerd node the kubelet's archive streams, as it arrives,
 * into {@code ctr images import} as the layer of the checkpoint image ({@link StreamedCheckpointImport}; as
 * several layers when its channel announces no size: the source sends it while the kubelet's runtime still
 * writes it), and the restore request names and completes that image. For the other stores the archive arrives into the work dir
 * (archives are as large as the container's memory: not tmpfs) and the restore request turns it into a
 * checkpoint image imported into the node's image store ({@link CheckpointImages}); the result names that
 * image. The runtime restores the container when the coordinator creates the destination pod with that
 * image; this agent starts nothing itself. An abort during the import is applied once it ended: the image
 * is removed again. A failed session leaves nothing behind: no partial archive, no layout, no imported image.
 */
final class KubeletDestination implements DestinationBackend {
  private static final Logger LOG = LoggerFactory.getLogger(KubeletDestination.class);
  static final String SESSIONS_DIR = "checkpoint-sessions";
  private static final String ARCHIVE = "archive.tar";
  private static final long ARCHIVE_SETTLE_SECONDS = 10;
  /** What may wait in memory for ctr: a few of the data plane's windows, not the archive. */
  private static final long STREAM_HIGH_WATER_BYTES = 8L * 1024 * 1024;

  private final ReceiveSession session;
  private final Vertx vertx;
  private final CheckpointImages images;
  private final Path dir;
  private final Promise<Void> archiveReceived = Promise.promise();
  private IncomingChannel archiveChannel;
  private StreamedCheckpointImport streamed;
  private WorkerSink sink;
  private String importedImage;

  KubeletDestination(ReceiveSession session) {
    this.session = session;
    this.vertx = session.deps().vertx();
    this.images = session.deps().kubelet().checkpointImages();
    this.dir = session.deps().workDir().resolve(SESSIONS_DIR).resolve("recv-" + session.id());
  }

  @Override
  public Path dir() {
    return dir;
  }

  @Override
  public boolean accept(IncomingChannel channel) {
    if (!Channels.KUBELET_ARCHIVE.equals(channel.kind())) {
      return false;
    }
    if (session.finishing()) {
      channel.reset(ProtocolError.CANCELLED, "the session has ended");
      return true;
    }
    if (archiveChannel != null) {
      channel.reset(ProtocolError.CANCELLED, "one archive per session");
      session.fail(MigrationFailure.of(Code.PROTOCOL_ERROR, "the source sent a second checkpoint archive"));
      return true;
    }
    archiveChannel = channel;
    channel.pause();
    // no size: the source sends the archive while the kubelet's runtime is still writing it
    long size = channel.metadata().getValue("size") instanceof Number number ? number.longValue() : -1;
    if (images.containerdSocket().isPresent()) {
      streamIntoContainerd(channel, size);
      return true;
    }
    vertx.executeBlocking(() -> Files.createDirectories(dir), false)
        .compose(created -> vertx.fileSystem().open(dir.resolve(ARCHIVE).toString(),
            new OpenOptions().setWrite(true).setCreate(true).setTruncateExisting(true)))
        .compose(channel::pipeTo)
        .onComplete(archiveReceived)
        .onFailure(failure -> session.fail(Failures.classify(failure, Code.CONNECTION_LOST)));
    return true;
  }

  /**
   * A containerd node: the image is built and imported while the archive arrives ({@link StreamedCheckpointImport}),
   * nothing goes to this agent's disk; the restore request only completes it.
   */
  private void streamIntoContainerd(IncomingChannel channel, long size) {
    long acceptedNanos = System.nanoTime();
    vertx.executeBlocking(() -> (size > 0 ? images.startStreamedImport(size) : images.startGrowingImport())
        .orElseThrow(), false)
        .compose(started -> {
          streamed = started;
          if (session.finishing()) {
            return Future.failedFuture(new MigrationFailure.Exception(Code.ABORTED, "the session has ended"));
          }
          sink = WorkerSink.start(vertx, STREAM_HIGH_WATER_BYTES, started::write);
          // a reset channel must not end the sink as if the archive were complete
          return channel.pipe().endOnFailure(false).to(sink);
        })
        .onSuccess(ignored -> LOG.info("session {}: the archive's {} bytes arrived and went into ctr in {} ms;"
            + " the import waited {} ms for bytes, {}", session.id(), channel.bytesReceived(),
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - acceptedNanos),
            TimeUnit.NANOSECONDS.toMillis(sink.waitedNanos()), streamed.profile()))
        .onComplete(archiveReceived)
        .onFailure(failure -> {
          // the session's failure tells the source why; a channel reset here would race it with CANCELLED
          session.fail(imageStoreFailure(failure).map(cause -> MigrationFailure.of(Code.IMAGE_STORE_FAILED,
              cause.getMessage())).orElseGet(() -> Failures.classify(failure, Code.CONNECTION_LOST)));
          stopStreamedImport();
        });
  }

  /** The import's own error, also when the pipe wrapped it (a write to the sink failed with it). */
  private static Optional<ImageStoreException> imageStoreFailure(Throwable failure) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      if (cause instanceof ImageStoreException imageStore) {
        return Optional.of(imageStore);
      }
    }
    return Optional.empty();
  }

  private void stopStreamedImport() {
    if (sink != null) {
      sink.cancel();
    }
    if (streamed != null) {
      streamed.abort();
    }
  }

  @Override
  public Future<MigrationResult> restore(RestoreManifest manifest) {
    KubeletTarget target = manifest.kubelet().orElseGet(() -> KubeletTarget.fromJson(new JsonObject()));
    String migrationId = manifest.migrationIdOr(session.id());
    String image = CheckpointImages.imageName(target.pod(), target.container(),
        migrationId.substring(0, Math.min(8, migrationId.length())));
    session.status().workloadId(target.toString());
    if (archiveChannel == null) {
      return Future.failedFuture(new MigrationFailure.Exception(Code.PROTOCOL_ERROR,
          "the source asked for the image before sending an archive"));
    }
    return archiveReceived.future()
        .compose(ignored -> {
          if (session.finishing()) {
            return Future.failedFuture(new MigrationFailure.Exception(Code.ABORTED, "the session has ended"));
          }
          // from here an abort waits for the import to end, then removes the image
          session.beginRestore();
          session.status().phase(MigrationPhase.RESTORING);
          LOG.info("session {} RESTORING: importing {} into {}", session.id(), image, images);
          long started = System.nanoTime();
          return vertx.executeBlocking(() -> {
            if (streamed != null) {
              streamed.finish(image, target.container());
            } else {
              images.importArchive(dir.resolve(ARCHIVE), dir, image, target.container());
            }
            session.deps().imageLedger().imported(image, System.currentTimeMillis());
            return image;
          }, false).map(imported -> {
            importedImage = imported;
            long restoreMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            session.status().timing("restoreMs", restoreMs);
            return MigrationResult.imported(imported, restoreMs);
          });
        })
        .recover(failure -> Future.failedFuture(
            new MigrationFailure.Exception(Failures.classify(failure, Code.IMAGE_STORE_FAILED))));
  }

  /** The image is removed with the failed session (see {@link #release}). */
  @Override
  public Future<Void> undo(MigrationResult result) {
    return Future.succeededFuture();
  }

  @Override
  public boolean abortableWhileRestoring() {
    return true;
  }

  /** A closed connection ends an archive still arriving; its file is closed before the directory goes. */
  @Override
  public Future<Void> quiesce() {
    return archiveChannel == null ? Future.succeededFuture()
        : archiveReceived.future().timeout(ARCHIVE_SETTLE_SECONDS, TimeUnit.SECONDS).otherwiseEmpty();
  }

  @Override
  public void release(boolean failed) {
    if (failed) {
      stopStreamedImport();
    }
    if (failed && importedImage != null) {
      images.remove(importedImage);
      session.deps().imageLedger().settled(importedImage);
      LOG.info("session {}: removed the imported image {} again", session.id(), importedImage);
    }
  }

  @Override
  public void countBytes(MigrationStatus status) {
    if (archiveChannel != null) {
      status.bytes("images", archiveChannel.bytesReceived());
    }
  }

  /** No CRIU logs here: the directory holds the archive and the image layout only. */
  @Override
  public Optional<Path> logs() {
    return Optional.empty();
  }
}
