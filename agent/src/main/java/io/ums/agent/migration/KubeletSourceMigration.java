package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.kubelet.KubeletArchives;
import io.ums.agent.kubelet.KubeletClient;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source side of an orchestrator-level migration: the node's kubelet checkpoints a pod's container (which
 * goes on running; this agent never stops it), and the archive it wrote streams from the file straight into
 * one channel to the destination, which turns it into a checkpoint image. Runs on the event loop it was
 * started on.
 *
 * <p>Order: the data connection opens while the kubelet checkpoints; the archive is found in the agent's
 * mount of the kubelet's checkpoint directory, streamed with the protocol's backpressure, and followed by the
 * restore request; the destination answers with the image it imported. The archive holds the container's
 * memory: it is deleted in every outcome, also when it arrives after the migration was given up.
 */
final class KubeletSourceMigration implements OutgoingMigration {
  private static final Logger LOG = LoggerFactory.getLogger(KubeletSourceMigration.class);
  /** How often the byte counts of a running migration are refreshed in its status. */
  private static final long PROGRESS_MILLIS = 250;
  private static final int ARCHIVE_READ_BYTES = 256 * 1024;
  private static final String ARCHIVE_CLAIMS = "kubelet-archives";

  /** A container of a pod, as the kubelet names it. */
  record Target(String namespace, String pod, String container) {
    static Target fromJson(JsonObject json) {
      return new Target(json.getString("namespace"), json.getString("pod"), json.getString("container"));
    }

    JsonObject toJson() {
      return new JsonObject().put("namespace", namespace).put("pod", pod).put("container", container);
    }

    @Override
    public String toString() {
      return namespace + "/" + pod + "/" + container;
    }
  }

  private final MigrationDeps deps;
  private final Vertx vertx;
  private final Context context;
  private final String id;
  private final Target target;
  private final SourceMigration.Destination destination;
  private final boolean keep;
  private final KubeletClient kubelet;
  private final KubeletArchives archives;
  private final MigrationStatus status;
  private final Promise<JsonObject> done = Promise.promise();
  private final long startNanos = System.nanoTime();
  private long transferStartNanos = -1;
  private UmsConnection connection;
  private Path archive;
  private OutgoingChannel archiveChannel;
  private boolean finishing;
  private long timer = -1;
  private long progressTimer = -1;

  KubeletSourceMigration(MigrationDeps deps, String id, Target target, SourceMigration.Destination destination,
                         boolean keep, KubeletClient kubelet) {
    this.deps = deps;
    this.vertx = deps.vertx();
    this.context = vertx.getOrCreateContext();
    this.id = id;
    this.target = target;
    this.destination = destination;
    this.keep = keep;
    this.kubelet = kubelet;
    this.archives = kubeletArchives(deps);
    this.status = new MigrationStatus(id, MigrationStatus.Role.SOURCE, target.toString());
  }

  /** The kubelet's archives as this agent handles them (claims in the work dir). */
  static KubeletArchives kubeletArchives(MigrationDeps deps) {
    return new KubeletArchives(deps.kubelet().checkpointDir(), deps.workDir().resolve(ARCHIVE_CLAIMS));
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
  public void start() {
    LOG.info("migration {} PREPARING: kubelet checkpoint of {} to {}:{}", id, target, destination.host(),
        destination.port());
    timer = MigrationEvents.deadline(vertx, deps.settings(), this::fail);
    progressTimer = vertx.setPeriodic(PROGRESS_MILLIS, ignored -> countBytes());
    // the handshake and the kubelet's checkpoint do not depend on each other
    Future<UmsConnection> connected = connect();
    connected.onSuccess(opened -> {
      if (finishing) {
        opened.close();
      }
    });
    Future<Path> checkpointed = checkpoint();
    Future.all(connected, checkpointed).compose(ignored -> transfer())
        .onFailure(failure -> fail(Failures.classify(failure, Code.INTERNAL)));
  }

  @Override
  public void abort(Code code, String why) {
    context.runOnContext(ignored -> fail(MigrationFailure.of(code, why)));
  }

  private Future<UmsConnection> connect() {
    return destination.connect(deps.client(), destination.host(), destination.port())
        .onSuccess(opened -> {
          connection = opened;
          MigrationEvents.routeToDestination(opened, this::onPeerChannel, this::fail);
        });
  }

  private void onPeerChannel(IncomingChannel channel) {
    if (MigrationChannels.RESULT.equals(channel.kind())) {
      ResultChannel.receive(channel, this::onResult, failure -> fail(Failures.classify(failure,
          Code.CONNECTION_LOST)));
    } else {
      channel.reset(ProtocolError.CANCELLED, "unexpected channel " + channel.kind());
    }
  }

  private Future<Path> checkpoint() {
    status.phase(MigrationPhase.CHECKPOINTING);
    LOG.info("migration {} CHECKPOINTING: POST /checkpoint/{} on the kubelet", id, target);
    long started = System.nanoTime();
    return kubelet.checkpoint(target.namespace(), target.pod(), target.container())
        .compose(reported -> vertx.executeBlocking(() -> {
          Path local = archives.locate(reported);
          archives.claim(id, local);
          return local;
        }, false))
        .onSuccess(local -> {
          archive = local;
          // the kubelet's runtime froze the container at most this long; it runs on afterwards
          status.timing("dumpMs", MigrationEvents.millis(started, System.nanoTime()));
          status.timing("freezeMs", status.timing("dumpMs"));
          if (finishing) {
            deleteArchive();
          }
        });
  }

  private Future<Void> transfer() {
    if (finishing) {
      return Future.succeededFuture();
    }
    status.phase(MigrationPhase.TRANSFERRING);
    transferStartNanos = System.nanoTime();
    String name = archive.getFileName().toString();
    return vertx.fileSystem().props(archive.toString())
        .compose(props -> {
          LOG.info("migration {} TRANSFERRING: {} ({} bytes) after a {} ms checkpoint", id, name, props.size(),
              status.timing("dumpMs"));
          return vertx.fileSystem().open(archive.toString(), new OpenOptions().setRead(true).setWrite(false))
              .compose(in -> send(in, new JsonObject().put("name", name).put("size", props.size()))
                  .eventually(in::close));
        })
        .compose(ignored -> {
          countBytes();
          status.timing("transferMs", MigrationEvents.millis(transferStartNanos, System.nanoTime()));
          return connection.openChannel(MigrationChannels.RESTORE, manifest());
        })
        .compose(OutgoingChannel::end)
        .onSuccess(ignored -> {
          status.phase(MigrationPhase.RESTORING);
          LOG.info("migration {} RESTORING: archive sent, the destination builds the checkpoint image", id);
        });
  }

  private Future<Void> send(AsyncFile in, JsonObject metadata) {
    // AsyncFile reads 8 KiB at a time by default: one worker round trip and one frame each
    in.setReadBufferSize(ARCHIVE_READ_BYTES);
    return connection.openChannel(MigrationChannels.KUBELET_ARCHIVE, metadata).compose(channel -> {
      archiveChannel = channel;
      return in.pipeTo(channel);
    });
  }

  private JsonObject manifest() {
    return new JsonObject()
        .put("migrationId", id)
        .put("sourceNode", deps.node())
        .put("kubelet", target.toJson())
        .put("archiveBytes", archiveChannel.bytesWritten())
        .put("keep", keep);
  }

  private void onResult(JsonObject result) {
    if (finishing) {
      return;
    }
    if (!result.getBoolean("ok", false)) {
      fail(MigrationFailure.fromJson(result.getJsonObject("error", new JsonObject())));
      return;
    }
    status.timing("restoreMs", result.getLong("restoreMs", -1L));
    status.checkpointImage(result.getString("checkpointImage"));
    LOG.info("migration {}: the destination imported {}", id, result.getString("checkpointImage"));
    finish(MigrationPhase.DONE);
  }

  private void fail(MigrationFailure failure) {
    if (finishing) {
      return;
    }
    status.error(failure);
    LOG.info("migration {}: {} ({}); the container runs on where it was", id, failure.code(), failure.message());
    if (archiveChannel != null) {
      archiveChannel.reset(ProtocolError.CANCELLED, failure.message());
    }
    finish(MigrationPhase.FAILED);
  }

  private void countBytes() {
    long sent = archiveChannel == null ? 0 : archiveChannel.bytesWritten();
    status.bytes("images", sent);
    status.bytes("raw", sent);
    if (connection != null) {
      status.bytes("wire", connection.stats().wireBytesSent());
    }
  }

  private void finish(MigrationPhase phase) {
    finishing = true;
    vertx.cancelTimer(timer);
    vertx.cancelTimer(progressTimer);
    countBytes();
    MigrationEvents.conclude(status, phase, startNanos);
    Future<Void> closed = connection == null ? Future.succeededFuture() : connection.close();
    closed.otherwiseEmpty().compose(ignored -> deleteArchive())
        .onComplete(ignored -> done.complete(status.toJson()));
  }

  private Future<Void> deleteArchive() {
    Path file = archive;
    if (file == null) {
      return Future.succeededFuture();
    }
    return vertx.executeBlocking(() -> {
      if (!archives.delete(id, file)) {
        LOG.warn("migration {}: could not delete the checkpoint archive {}", id, file);
      }
      return null;
    }, false);
  }

}
