package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.image.CheckpointImages;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The destination side of an orchestrator-level migration (POST /v1/receive kind "checkpoint"): the kubelet
 * checkpoint archive arrives on one channel into the work dir (archives are as large as the container's
 * memory: not tmpfs), the restore request turns it into a checkpoint image imported into the node's image
 * store ({@link CheckpointImages}), and the result names that image. The runtime restores the container when
 * the coordinator creates the destination pod with that image; this agent starts nothing itself.
 * A failed or aborted session leaves nothing behind: no partial archive, no layout, no imported image.
 * Runs on the event loop of its data connection.
 */
final class CheckpointImageSession implements IncomingMigration {
  private static final Logger LOG = LoggerFactory.getLogger(CheckpointImageSession.class);
  static final String SESSIONS_DIR = "checkpoint-sessions";
  private static final String ARCHIVE = "archive.tar";
  private static final long ARCHIVE_SETTLE_SECONDS = 10;

  private final Vertx vertx;
  private final String id;
  private final CheckpointImages images;
  private final MigrationStatus status;
  private final Promise<JsonObject> done = Promise.promise();
  private final Promise<Void> archiveReceived = Promise.promise();
  private final Path dir;
  private final long startNanos = System.nanoTime();
  private Context context;
  private UmsConnection connection;
  private IncomingChannel archiveChannel;
  private String importedImage;
  /** An abort that came while the image was being imported: applied (image removed) once the import ends. */
  private MigrationFailure abortWhileImporting;
  private boolean importing;
  private boolean finishing;

  CheckpointImageSession(MigrationDeps deps, String id) {
    this.vertx = deps.vertx();
    this.id = id;
    this.images = deps.kubelet().checkpointImages();
    this.status = new MigrationStatus(id, MigrationStatus.Role.DESTINATION, null);
    this.dir = deps.workDir().resolve(SESSIONS_DIR).resolve("recv-" + id);
  }

  @Override
  public MigrationStatus status() {
    return status;
  }

  @Override
  public Future<JsonObject> completion() {
    return done.future();
  }

  @Override
  public void attach(UmsConnection opened) {
    context = vertx.getOrCreateContext();
    connection = opened;
    status.phase(MigrationPhase.TRANSFERRING);
    LOG.info("session {} TRANSFERRING: source connected (kubelet checkpoint archive)", id);
    MigrationEvents.routeFromSource(opened, this::onChannel, this::fail);
  }

  @Override
  public void abort(Code code, String why) {
    Runnable action = () -> {
      if (importing) {
        abortWhileImporting = MigrationFailure.of(code, why);
      } else {
        fail(MigrationFailure.of(code, why));
      }
    };
    MigrationEvents.onContext(context, action);
  }

  @Override
  public void expire(String why) {
    if (connection == null) {
      fail(MigrationFailure.of(Code.TIMEOUT, why));
    }
  }

  private void onChannel(IncomingChannel channel) {
    switch (channel.kind()) {
      case MigrationChannels.KUBELET_ARCHIVE -> receiveArchive(channel);
      case MigrationChannels.RESTORE -> {
        JsonObject manifest = channel.metadata();
        channel.handler(ignored -> { });
        channel.exceptionHandler(failure -> fail(Failures.classify(failure, Code.CONNECTION_LOST)));
        channel.endHandler(ignored -> importImage(manifest));
      }
      default -> channel.reset(ProtocolError.CANCELLED, "unexpected channel " + channel.kind());
    }
  }

  private void receiveArchive(IncomingChannel channel) {
    if (finishing) {
      channel.reset(ProtocolError.CANCELLED, "the session has ended");
      return;
    }
    if (archiveChannel != null) {
      channel.reset(ProtocolError.CANCELLED, "one archive per session");
      fail(MigrationFailure.of(Code.PROTOCOL_ERROR, "the source sent a second checkpoint archive"));
      return;
    }
    archiveChannel = channel;
    channel.pause();
    vertx.executeBlocking(() -> Files.createDirectories(dir), false)
        .compose(created -> vertx.fileSystem().open(dir.resolve(ARCHIVE).toString(),
            new OpenOptions().setWrite(true).setCreate(true).setTruncateExisting(true)))
        .compose(channel::pipeTo)
        .onComplete(archiveReceived)
        .onFailure(failure -> fail(Failures.classify(failure, Code.CONNECTION_LOST)));
  }

  private void importImage(JsonObject manifest) {
    if (finishing) {
      return;
    }
    JsonObject kubelet = manifest.getJsonObject("kubelet", new JsonObject());
    KubeletSourceMigration.Target target = KubeletSourceMigration.Target.fromJson(kubelet);
    String migrationId = manifest.getString("migrationId", id);
    String image = CheckpointImages.imageName(target.pod(), target.container(),
        migrationId.substring(0, Math.min(8, migrationId.length())));
    status.workloadId(target.toString());
    if (archiveChannel == null) {
      fail(MigrationFailure.of(Code.PROTOCOL_ERROR, "the source asked for the image before sending an archive"));
      return;
    }
    archiveReceived.future()
        .compose(ignored -> {
          if (finishing) {
            return Future.failedFuture(new MigrationFailure.Exception(Code.ABORTED, "the session has ended"));
          }
          // from here an abort waits for the import to end, then removes the image
          importing = true;
          status.phase(MigrationPhase.RESTORING);
          LOG.info("session {} RESTORING: importing {} into {}", id, image, images);
          long started = System.nanoTime();
          return vertx.executeBlocking(() -> {
            images.importArchive(dir.resolve(ARCHIVE), dir, image, target.container());
            return image;
          }, false).onSuccess(imported -> {
            importedImage = imported;
            status.timing("restoreMs", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
          });
        })
        .compose(imported -> abortWhileImporting != null
            ? Future.failedFuture(new MigrationFailure.Exception(abortWhileImporting)) : report(imported))
        .onSuccess(ignored -> finish(MigrationPhase.DONE))
        .onFailure(failure -> {
          importing = false;
          fail(Failures.classify(failure, Code.IMAGE_STORE_FAILED));
        });
  }

  private Future<Void> report(String image) {
    status.checkpointImage(image);
    return ResultChannel.send(connection, new JsonObject().put("checkpointImage", image)
            .put("restoreMs", status.timing("restoreMs")))
        .recover(failure -> Future.failedFuture(new MigrationFailure.Exception(Code.SOURCE_GONE,
            "the source did not take the result: " + failure.getMessage())));
  }

  private void fail(MigrationFailure failure) {
    if (finishing || importing) {
      return;
    }
    finishing = true;
    status.error(failure);
    LOG.info("session {}: {} ({})", id, failure.code(), failure.message());
    ResultChannel.sendFailure(connection, failure).onComplete(ignored -> finish(MigrationPhase.FAILED));
  }

  private void finish(MigrationPhase phase) {
    finishing = true;
    status.timing("totalMs", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
    if (connection != null) {
      status.bytes("wire", connection.stats().wireBytesReceived());
      status.bytes("raw", connection.stats().payloadBytesReceived());
    }
    if (archiveChannel != null) {
      status.bytes("images", archiveChannel.bytesReceived());
    }
    if (phase != MigrationPhase.DONE) {
      status.checkpointImage(null);
    }
    status.phase(phase);
    LOG.info("session {} {}: image {} timings {}", id, phase, phase == MigrationPhase.DONE ? importedImage : "-",
        status.toJson().getJsonObject("timings"));
    String leftover = phase == MigrationPhase.DONE ? null : importedImage;
    Future<Void> closed = connection == null ? Future.succeededFuture() : connection.close();
    // a closed connection ends an archive still arriving; its file is closed before the directory goes
    Future<Void> received = archiveChannel == null ? Future.succeededFuture()
        : archiveReceived.future().timeout(ARCHIVE_SETTLE_SECONDS, TimeUnit.SECONDS);
    closed.otherwiseEmpty()
        .compose(ignored -> received.otherwiseEmpty())
        .compose(ignored -> vertx.executeBlocking(() -> {
          if (leftover != null) {
            images.remove(leftover);
            LOG.info("session {}: removed the imported image {} again", id, leftover);
          }
          SessionDirs.delete(dir);
          return null;
        }, false))
        .onComplete(ignored -> done.complete(status.toJson()));
  }
}
