package io.ums.agent.migration;

import io.ums.agent.container.ContainerWorkloads;
import io.ums.agent.container.FifoPump;
import io.ums.agent.container.WorkloadsByKind;
import io.ums.agent.dataplane.DumpPageSocket;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.image.Image;
import io.ums.agent.image.ImageLayer;
import io.ums.agent.image.OciImageStore;
import io.ums.agent.workload.Workload;
import io.ums.agent.workload.WorkloadSpec;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source side of a runc container's migration. Runs on the event loop it was started on.
 *
 * <p>Order: connect; offer the image (the container still runs) and stream only the layers the
 * destination lacks; freeze the container (cgroup freezer) and {@code runc checkpoint --leave-running} with
 * CRIU's page server pointed at a local socket relayed into the "pages" channel, exactly as for a process;
 * send the CRIU image files, runc's {@code descriptors.json} and the writable layer's diff; ask for the
 * restore. Only the destination's "running" result commits (the frozen source is deleted); any failure
 * before that thaws the source, which never stopped existing.
 */
final class ContainerSourceMigration implements OutgoingMigration {
  private static final Logger LOG = LoggerFactory.getLogger(ContainerSourceMigration.class);
  private static final String DESCRIPTORS = "descriptors.json";
  /** How often the byte counts of a running migration are refreshed in its status. */
  private static final long PROGRESS_MILLIS = 250;

  private final MigrationDeps deps;
  private final Vertx vertx;
  private final Context context;
  private final String id;
  private final Workload workload;
  private final SourceMigration.Destination destination;
  private final boolean keep;
  private final ContainerWorkloads containers;
  private final OciImageStore store;
  private final MigrationStatus status;
  private final Promise<JsonObject> done = Promise.promise();
  private final Promise<JsonArray> layersWanted = Promise.promise();
  private final long startNanos = System.nanoTime();
  private long freezeStartNanos = -1;
  private long layerBytesSent;
  private long layerBytesSkipped;
  private long imageBytes;
  private Path scratch;
  private UmsConnection connection;
  private DumpPageSocket pageSocket;
  private PageStreamRelay pages;
  /** podman's checkpoint archive channel (it carries the pages). */
  private OutgoingChannel archiveChannel;
  private OutgoingChannel layerChannel;
  /** The running (or finished) checkpoint; null before it started. Succeeded = the container is frozen. */
  private Future<Void> checkpointRun;
  private boolean finishing;
  private long timer = -1;
  private long progressTimer = -1;

  ContainerSourceMigration(MigrationDeps deps, String id, Workload workload, SourceMigration.Destination destination,
                           boolean keep) {
    this.deps = deps;
    this.vertx = deps.vertx();
    this.context = vertx.getOrCreateContext();
    this.id = id;
    this.workload = workload;
    this.destination = destination;
    this.keep = keep;
    this.containers = ((WorkloadsByKind) deps.workloads()).containers();
    this.store = containers.store();
    this.status = new MigrationStatus(id, MigrationStatus.Role.SOURCE, workload.id());
  }

  static boolean handles(Workload workload) {
    return WorkloadSpec.KIND_CONTAINER.equals(workload.spec().kind());
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
    LOG.info("migration {} PREPARING: container {} ({}) to {}:{}", id, workload.id(), workload.spec().image(),
        destination.host(), destination.port());
    timer = MigrationEvents.deadline(vertx, deps.settings(), this::fail);
    progressTimer = vertx.setPeriodic(PROGRESS_MILLIS, ignored -> countBytes());
    connect()
        .compose(ignored -> vertx.executeBlocking(() -> {
          scratch = Files.createDirectories(deps.settings().sessionRoot().resolve("send-" + id));
          Files.createDirectories(scratch.resolve("images"));
          return containers.imageOf(workload.id());
        }, false))
        .compose(this::sendMissingLayers)
        .compose(ignored -> containers.runsOnPodman(workload.id()) ? streamPodmanCheckpoint()
            : DumpPageSocket.listen(vertx, deps.localHost()).compose(this::checkpoint)
                .compose(dumped -> sendCheckpointFiles()))
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
          pages = new PageStreamRelay(opened, workload.id());
          MigrationEvents.routeToDestination(opened, this::onPeerChannel, this::fail);
        });
  }

  private void onPeerChannel(IncomingChannel channel) {
    switch (channel.kind()) {
      case ContainerChannels.LAYERS_WANTED -> {
        JsonArray missing = channel.metadata().getJsonArray("missing", new JsonArray());
        channel.handler(ignored -> { });
        channel.endHandler(ignored -> layersWanted.tryComplete(missing));
      }
      case MigrationChannels.PAGES_REPLY -> pages.replyChannel(channel);
      case MigrationChannels.RESULT -> ResultChannel.receive(channel, this::onResult,
          failure -> fail(Failures.classify(failure, Code.CONNECTION_LOST)));
      default -> channel.reset(ProtocolError.CANCELLED, "unexpected channel " + channel.kind());
    }
  }

  /** Offers the image while the container still runs; streams the layers the destination lacks. */
  private Future<Void> sendMissingLayers(Image image) {
    status.phase(MigrationPhase.TRANSFERRING);
    JsonArray layers = new JsonArray();
    image.layers().forEach(layer -> layers.add(layer.toJson()));
    JsonObject offer = new JsonObject().put("image", image.name())
        .put("manifest", new String(store.readBlob(image.manifest()), StandardCharsets.UTF_8))
        .put("config", new String(store.readBlob(image.config()), StandardCharsets.UTF_8))
        .put("layers", layers);
    return connection.openChannel(ContainerChannels.IMAGE_OFFER, offer).compose(OutgoingChannel::end)
        .compose(ignored -> layersWanted.future())
        .compose(missing -> {
          Set<String> wanted = new HashSet<>();
          missing.forEach(digest -> wanted.add(String.valueOf(digest)));
          Future<Void> sent = Future.succeededFuture();
          for (ImageLayer layer : image.layers()) {
            if (wanted.contains(layer.digest().toString())) {
              sent = sent.compose(ignored -> sendLayer(layer));
            } else {
              layerBytesSkipped += layer.size();
            }
          }
          status.bytes("layerBytesSkipped", layerBytesSkipped);
          LOG.info("migration {}: destination lacks {} of {} layer(s); {} bytes of layers skipped", id, wanted.size(),
              image.layers().size(), layerBytesSkipped);
          return sent;
        });
  }

  private Future<Void> sendLayer(ImageLayer layer) {
    Path blob = store.blobPath(layer.digest());
    return vertx.fileSystem().open(blob.toString(), new OpenOptions().setRead(true).setWrite(false))
        .compose(in -> connection.openChannel(ContainerChannels.LAYER, layer.toJson())
            .compose(channel -> {
              layerChannel = channel;
              return in.pipeTo(channel);
            })
            .eventually(in::close))
        .onSuccess(ignored -> {
          layerBytesSent += layer.size();
          status.bytes("layerBytesSent", layerBytesSent);
          layerChannel = null;
        });
  }

  private Future<Void> checkpoint(DumpPageSocket socket) {
    if (finishing) {
      return Future.failedFuture(new MigrationFailure.Exception(Code.ABORTED, "migration already ended"));
    }
    pageSocket = socket;
    pageSocket.accepted().onSuccess(pages::dumpConnected);
    pages.sent().onFailure(failure -> fail(Failures.classify(failure, Code.CONNECTION_LOST)));
    status.phase(MigrationPhase.CHECKPOINTING);
    LOG.info("migration {} CHECKPOINTING: runc checkpoint of container {}", id, workload.id());
    freezeStartNanos = System.nanoTime();
    checkpointRun = containers.freezeAndCheckpoint(workload.id(), scratch.resolve("images"),
        scratch.resolve("criu-work"), deps.localHost() + ":" + pageSocket.port());
    return checkpointRun
        .recover(failure -> Future.failedFuture(new MigrationFailure.Exception(Code.DUMP_FAILED,
            failure.getMessage())))
        .onSuccess(ignored -> {
          status.timing("dumpMs", MigrationEvents.millis(freezeStartNanos, System.nanoTime()));
          status.timing("freezeMs", MigrationEvents.millis(freezeStartNanos, pages.connectedNanos()));
        });
  }

  /**
   * podman: its checkpoint archive (pages, CRIU images, writable layer) streams from a FIFO into one channel
   * as podman writes it; podman stops the container and keeps the checkpoint locally for a rollback.
   */
  private Future<Void> streamPodmanCheckpoint() {
    if (finishing) {
      return Future.failedFuture(new MigrationFailure.Exception(Code.ABORTED, "migration already ended"));
    }
    status.phase(MigrationPhase.CHECKPOINTING);
    LOG.info("migration {} CHECKPOINTING: podman checkpoint of container {}", id, workload.id());
    Path fifo = scratch.resolve("checkpoint.fifo");
    return vertx.executeBlocking(() -> {
          FifoPump.create(fifo);
          return null;
        }, false)
        .compose(ignored -> connection.openChannel(ContainerChannels.CHECKPOINT_ARCHIVE, new JsonObject()))
        .compose(channel -> {
          archiveChannel = channel;
          freezeStartNanos = System.nanoTime();
          checkpointRun = containers.podmanCheckpoint(workload.id(), fifo);
          checkpointRun.onFailure(failure -> vertx.executeBlocking(() -> {
            FifoPump.release(fifo);
            return null;
          }, false));
          Future<Long> pumped = FifoPump.pump(vertx, context, fifo, channel, () -> finishing);
          return Future.all(checkpointRun, pumped)
              .recover(failure -> Future.failedFuture(new MigrationFailure.Exception(Code.DUMP_FAILED,
                  failure.getMessage())))
              .compose(ignored -> {
                status.timing("dumpMs", MigrationEvents.millis(freezeStartNanos, System.nanoTime()));
                status.timing("freezeMs", 0);
                return channel.end();
              });
        })
        .compose(ignored -> {
          countBytes();
          status.timing("transferMs", MigrationEvents.millis(freezeStartNanos, System.nanoTime()));
          return connection.openChannel(MigrationChannels.RESTORE, manifest());
        })
        .compose(OutgoingChannel::end)
        .onSuccess(ignored -> {
          status.phase(MigrationPhase.RESTORING);
          LOG.info("migration {} RESTORING: podman checkpoint sent, waiting for the destination", id);
        });
  }

  /** After the dump: CRIU's image files, runc's descriptors, the writable layer; then the restore request. */
  private Future<Void> sendCheckpointFiles() {
    status.phase(MigrationPhase.TRANSFERRING);
    Path images = scratch.resolve("images");
    Path diff = scratch.resolve("layer-diff.tar");
    return pages.sent()
        .compose(ignored -> containers.writeLayerDiff(workload.id(), diff))
        .compose(ignored -> vertx.executeBlocking(() -> ImageFiles.list(images), false))
        .compose(files -> ImageFiles.send(vertx, connection, files))
        .compose(bytes -> {
          imageBytes += bytes;
          return sendFile(ContainerChannels.RUNTIME_FILE, images.resolve(DESCRIPTORS), DESCRIPTORS);
        })
        .compose(ignored -> sendFile(ContainerChannels.LAYER_DIFF, diff, "layer-diff.tar"))
        .compose(ignored -> {
          countBytes();
          status.timing("transferMs", MigrationEvents.millis(pages.connectedNanos(), System.nanoTime()));
          return connection.openChannel(MigrationChannels.RESTORE, manifest());
        })
        .compose(OutgoingChannel::end)
        .onSuccess(ignored -> {
          status.phase(MigrationPhase.RESTORING);
          LOG.info("migration {} RESTORING: checkpoint sent, waiting for the destination", id);
        });
  }

  private Future<Void> sendFile(String kind, Path file, String name) {
    return vertx.fileSystem().open(file.toString(), new OpenOptions().setRead(true).setWrite(false))
        .compose(in -> connection.openChannel(kind, new JsonObject().put("name", name))
            .compose(channel -> in.pipeTo(channel).map(ignored -> channel.bytesWritten()))
            .eventually(in::close))
        .map(bytes -> {
          imageBytes += bytes;
          return null;
        });
  }

  private JsonObject manifest() {
    return new JsonObject()
        .put("migrationId", id)
        .put("sourceNode", deps.node())
        .put("sourceWorkloadId", workload.id())
        .put("spec", WorkloadSpecJson.encode(workload.spec()));
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
    status.timing("downtimeMs", MigrationEvents.millis(freezeStartNanos, System.nanoTime()));
    status.destinationWorkloadId(result.getString("workloadId"));
    finishing = true;
    vertx.cancelTimer(timer);
    LOG.info("migration {}: destination runs container {}, {} the source", id, result.getString("workloadId"),
        keep ? "resuming (keep)" : "removing");
    deps.workloads().endMigration(workload.id());
    Future<Void> settled = keep ? resumeSource() : deps.workloads().remove(workload.id());
    settled.onComplete(settledResult -> {
      if (settledResult.failed()) {
        LOG.warn("migration {}: settling the source container failed: {}", id, settledResult.cause().getMessage());
      }
      finish(MigrationPhase.DONE);
    });
  }

  /** Brings the checkpointed source back: runc thaws it, podman restores its kept checkpoint. */
  private Future<Void> resumeSource() {
    if (containers.runsOnPodman(workload.id())) {
      return containers.podmanRollback(workload.id());
    }
    return containers.thaw(workload.id());
  }

  private void fail(MigrationFailure failure) {
    if (finishing) {
      return;
    }
    finishing = true;
    vertx.cancelTimer(timer);
    status.error(failure);
    LOG.info("migration {}: {} ({}), rolling back", id, failure.code(), failure.message());
    if (layerChannel != null) {
      layerChannel.reset(ProtocolError.CANCELLED, failure.message());
    }
    if (pages != null) {
      pages.reset(failure.message());
    }
    if (archiveChannel != null) {
      archiveChannel.reset(ProtocolError.CANCELLED, failure.message());
    }
    if (pageSocket != null) {
      pageSocket.close();  // breaks a running dump's page stream, so that the checkpoint ends
    }
    if (connection != null) {
      connection.close();
    }
    // a checkpoint still running ends when its page stream breaks (it thaws the container itself when it
    // fails); one that completed left the container frozen
    Future<Void> thawed;
    if (checkpointRun == null) {
      thawed = Future.succeededFuture();
    } else if (containers.runsOnPodman(workload.id())) {
      thawed = checkpointRun.transform(dumped -> resumeSource());
    } else {
      thawed = checkpointRun.transform(dumped -> dumped.succeeded() ? resumeSource() : Future.succeededFuture());
    }
    thawed.onComplete(result -> {
      deps.workloads().endMigration(workload.id());
      if (result.failed()) {
        status.error(MigrationFailure.of(Code.ROLLBACK_FAILED, "the source container did not resume: "
            + result.cause().getMessage()));
      }
      finish(result.succeeded() ? MigrationPhase.ROLLED_BACK : MigrationPhase.FAILED);
    });
  }

  private void countBytes() {
    long pageBytes = (pages == null ? 0 : pages.bytesWritten())
        + (archiveChannel == null ? 0 : archiveChannel.bytesWritten());
    status.bytes("pages", pageBytes);
    status.bytes("images", imageBytes);
    status.bytes("raw", pageBytes + imageBytes + layerBytesSent);
    if (connection != null) {
      status.bytes("wire", connection.stats().wireBytesSent());
    }
  }

  private void finish(MigrationPhase phase) {
    vertx.cancelTimer(progressTimer);
    countBytes();
    MigrationEvents.conclude(status, phase, startNanos);
    List<Future<?>> closing = new java.util.ArrayList<>();
    if (pageSocket != null) {
      closing.add(pageSocket.close());
    }
    if (connection != null) {
      closing.add(connection.close());
    }
    Path dir = scratch;
    Future.join(closing)
        .eventually(() -> vertx.executeBlocking(() -> {
          if (dir != null) {
            SessionDirs.settle(dir, dir.resolve("criu-work"), phase != MigrationPhase.DONE,
                deps.settings().failureLogs(), id)
                .ifPresent(kept -> LOG.warn("migration {}: runc/CRIU logs kept in {}", id, kept));
          }
          return null;
        }, false))
        .onComplete(ignored -> done.complete(status.toJson()));
  }


}
