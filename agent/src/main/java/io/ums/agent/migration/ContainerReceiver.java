package io.ums.agent.migration;

import io.ums.agent.container.ContainerWorkloads;
import io.ums.agent.container.Podman;
import io.ums.agent.container.Runc;
import io.ums.agent.criu.RestoreGuard;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.image.Digest;
import io.ums.agent.image.Image;
import io.ums.agent.image.ImageLayer;
import io.ums.agent.image.ImageStoreException;
import io.ums.agent.image.OciImageStore;
import io.ums.agent.workload.Workload;
import io.ums.agent.workload.WorkloadSpec;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The container part of a receive session ({@link DestinationSession} keeps the pages, CRIU images, result
 * and failure handling): answers the image offer with the layers this node lacks, verifies each arriving
 * layer against its digest (a mismatch fails the session), registers the image, keeps runc's checkpoint
 * files and the writable layer's diff, and finally rebuilds the bundle from the store and restores it with
 * runc. On failure, {@link #discard} removes the layers and the image this session added.
 */
final class ContainerReceiver {
  private static final Logger LOG = LoggerFactory.getLogger(ContainerReceiver.class);
  private static final Set<String> RUNTIME_FILES = Set.of("descriptors.json");

  private final Vertx vertx;
  /** Kills a runc restore's container if this agent dies before the source heard that it runs. */
  private volatile RestoreGuard restoreGuard;
  private final String sessionId;
  private final UmsConnection connection;
  private final Path dir;
  private final ContainerWorkloads containers;
  private final OciImageStore store;
  private final Handler<Throwable> failure;
  private final Promise<Void> layersDone = Promise.promise();
  /** The image registered and its layers unpacked, started as soon as the layers are in: before the freeze. */
  private Future<Image> imageReady;
  private final Promise<Void> diffReceived = Promise.promise();
  private final Promise<Void> archiveReceived = Promise.promise();
  private final List<Future<Void>> runtimeFiles = new ArrayList<>();
  /** Every layer being received or adopted: a failed session waits for them before it cleans up. */
  private final List<Future<Void>> layerWork = new ArrayList<>();
  private final Set<Digest> pending = new HashSet<>();
  private final Set<Digest> adopted = new HashSet<>();
  private ImageOffer offer;
  private boolean imageRegisteredHere;

  ContainerReceiver(MigrationDeps deps, String sessionId, UmsConnection connection, Path dir,
                    Handler<Throwable> failure) {
    this.vertx = deps.vertx();
    this.sessionId = sessionId;
    this.connection = connection;
    this.dir = dir;
    this.containers = deps.containers().orElse(null);
    this.store = containers == null ? null : containers.store();
    this.failure = failure;
  }

  /** Takes the container channels; false for any other kind. */
  boolean accept(IncomingChannel channel) {
    if (containers == null) {
      return false;
    }
    switch (channel.kind()) {
      case Channels.IMAGE_OFFER -> {
        JsonObject metadata = channel.metadata();
        channel.handler(ignored -> { });
        channel.endHandler(ignored -> onOffer(metadata));
      }
      case Channels.LAYER -> receiveLayer(channel);
      case Channels.LAYER_DIFF -> {
        channel.pause();
        vertx.fileSystem().open(dir.resolve("layer-diff.tar").toString(),
                new OpenOptions().setWrite(true).setCreate(true).setTruncateExisting(true))
            .compose(channel::pipeTo)
            .onComplete(diffReceived)
            .onFailure(failure);
      }
      case Channels.CHECKPOINT_ARCHIVE -> {
        channel.pause();
        vertx.fileSystem().open(dir.resolve("checkpoint.tar").toString(),
                new OpenOptions().setWrite(true).setCreate(true).setTruncateExisting(true))
            .compose(channel::pipeTo)
            .onComplete(archiveReceived)
            .onFailure(failure);
      }
      case Channels.RUNTIME_FILE -> {
        String name = channel.metadata().getString("name", "");
        if (!RUNTIME_FILES.contains(name)) {
          channel.reset(ProtocolError.CANCELLED, "unexpected runtime file");
          failure.handle(new MigrationFailure.Exception(Code.PROTOCOL_ERROR, "bad runtime file name \"" + name + "\""));
          return true;
        }
        channel.pause();
        runtimeFiles.add(vertx.fileSystem().open(dir.resolve("images").resolve(name).toString(),
                new OpenOptions().setWrite(true).setCreate(true).setTruncateExisting(true))
            .compose(channel::pipeTo)
            .onFailure(failure));
      }
      default -> {
        return false;
      }
    }
    return true;
  }

  private void onOffer(JsonObject metadata) {
    vertx.executeBlocking(() -> ImageOffer.fromJson(metadata), false).compose(parsed -> {
      offer = parsed;
      return vertx.executeBlocking(() -> {
        List<String> missing = new ArrayList<>();
        for (ImageLayer wanted : parsed.layers()) {
          if (!store.hasBlob(wanted.digest())) {
            missing.add(wanted.digest().toString());
            pending.add(wanted.digest());
          }
        }
        return missing;
      }, false);
    }).compose(missing -> {
      LOG.info("session {}: image {} offered, {} layer(s) missing here", sessionId, offer.image(), missing.size());
      if (missing.isEmpty()) {
        layersDone.tryComplete();
      }
      imageReady();
      return connection.openChannel(Channels.LAYERS_WANTED, ImageOffer.wanted(missing));
    }).compose(OutgoingChannel::end).onFailure(failure);
  }

  private void receiveLayer(IncomingChannel channel) {
    Digest digest;
    try {
      digest = Digest.parse(channel.metadata().getString("digest"));
    } catch (IllegalArgumentException e) {
      channel.reset(ProtocolError.CANCELLED, "bad digest");
      failure.handle(new MigrationFailure.Exception(Code.PROTOCOL_ERROR, e.getMessage()));
      return;
    }
    channel.pause();
    Path file = store.newScratchFile();
    Promise<Void> settled = Promise.promise();
    layerWork.add(settled.future());
    vertx.fileSystem().open(file.toString(), new OpenOptions().setWrite(true).setCreate(true))
        .compose(out -> channel.pipeTo(out))
        .compose(ignored -> vertx.executeBlocking(() -> {
          store.adoptBlob(file, digest);
          return null;
        }, false))
        .onSuccess(ignored -> {
          adopted.add(digest);
          pending.remove(digest);
          if (pending.isEmpty()) {
            layersDone.tryComplete();
          }
        })
        .onFailure(cause -> {
          vertx.executeBlocking(() -> Files.deleteIfExists(file), false);
          failure.handle(storeFailure(cause));
        })
        .onComplete(ignored -> settled.complete());
  }

  /** The restored container is handed over (or removed by this agent): its guard leaves it alone. */
  void disarm() {
    RestoreGuard guard = restoreGuard;
    if (guard != null) {
      guard.disarm();
    }
  }

  /** Completes when no layer is being received or adopted any more (whatever the outcome). */
  Future<Void> quiesce() {
    return Future.join(new ArrayList<>(layerWork)).timeout(30, TimeUnit.SECONDS).otherwiseEmpty().mapEmpty();
  }

  /**
   * Arms the guard of a runc restore (see {@link #restore}) ahead of it, and returns the guard's pid: a
   * post-copy restore's lazy-pages daemon, started before the restore, outlives it. Blocking.
   */
  long armRuncGuard(boolean lazyPages) throws IOException {
    restoreGuard = RestoreGuard.arm(Runc.restoredPidFile(restoreWork(lazyPages)), Runc.PID_FILE_FLAG);
    return restoreGuard.pid();
  }

  private Path restoreWork(boolean lazyPages) {
    return lazyPages ? dir : dir.resolve("restore-work");
  }

  /** Waits for everything the container needs, then rebuilds its bundle and restores it. */
  Future<Workload> restore(WorkloadSpec spec, String migrationId, MigrationStatus status) {
    return restore(spec, migrationId, status, false);
  }

  /**
   * As {@link #restore(WorkloadSpec, String, MigrationStatus)}; with {@code lazyPages} (runc only) the memory
   * is not in the images: the {@code criu lazy-pages} daemon listening in the session directory (runc's work
   * path then) fetches it.
   */
  Future<Workload> restore(WorkloadSpec spec, String migrationId, MigrationStatus status, boolean lazyPages) {
    if (containers == null || offer == null) {
      return Future.failedFuture(new MigrationFailure.Exception(Code.PROTOCOL_ERROR,
          "a container restore needs the image offer first"));
    }
    if (ContainerWorkloads.RUNTIME_PODMAN.equals(spec.runtime())) {
      // podman restores an exported checkpoint only from a regular file (a FIFO hangs it): the archive was
      // written to the session directory as it arrived
      Path archive = dir.resolve("checkpoint.tar");
      String id = ContainerWorkloads.newContainerId();
      return imageReady()
          .compose(image -> archiveReceived.future().map(image))
          .recover(cause -> Future.failedFuture(storeFailure(cause)))
          // the restored container dies with this agent until the source heard it runs (see RestoreGuard)
          .compose(image -> vertx.executeBlocking(() -> restoreGuard = RestoreGuard.armRemoval(
              Podman.restoreMarker(archive), containers.podmanRemoveCommand(id)), false).map(image))
          .compose(image -> {
            long started = System.nanoTime();
            return containers.podmanRestore(spec, archive, migrationId, id)
                .recover(cause -> Future.failedFuture(restoreFailure(cause)))
                .onSuccess(ignored -> status.timing("restoreMs",
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)));
          });
    }
    Path restoreWork = restoreWork(lazyPages);
    return imageReady()
        .compose(image -> diffReceived.future().compose(ignored -> Future.all(runtimeFiles)).map(image))
        .recover(cause -> Future.failedFuture(storeFailure(cause)))
        // the restored container dies with this agent until the source heard it runs (see RestoreGuard)
        .compose(image -> vertx.executeBlocking(() -> restoreGuard != null ? restoreGuard.pid()
            : armRuncGuard(lazyPages), false).map(image))
        .compose(image -> {
          long started = System.nanoTime();
          return containers.restore(spec, dir.resolve("layer-diff.tar"), dir.resolve("images"),
                  restoreWork, migrationId, lazyPages)
              .recover(cause -> Future.failedFuture(restoreFailure(cause)))
              .onSuccess(ignored -> status.timing("restoreMs",
                  TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)));
        });
  }

  /** Whether the runtime's checkpoint carries the memory pages itself (podman's archive), not CRIU's page server. */
  static boolean bringsOwnPages(WorkloadSpec spec) {
    return WorkloadSpec.KIND_CONTAINER.equals(spec.kind())
        && ContainerWorkloads.RUNTIME_PODMAN.equals(spec.runtime());
  }

  /**
   * Registers the image and unpacks its layers once every missing layer arrived: the source still runs then,
   * so this work stays out of the downtime.
   */
  private Future<Image> imageReady() {
    if (imageReady == null) {
      imageReady = layersDone.future().compose(ignored -> vertx.executeBlocking(() -> {
        Image image = registerImage();
        containers.prepareLayers(image);
        return image;
      }, false));
    }
    return imageReady;
  }

  private Image registerImage() {
    String name = offer.image();
    boolean existed = store.find(name).isPresent();
    Image image = store.register(name, offer.manifest().getBytes(StandardCharsets.UTF_8),
        offer.config().getBytes(StandardCharsets.UTF_8));
    imageRegisteredHere = !existed;
    return image;
  }

  /** After a failed session: removes the image and layers this session added (blocking). */
  void discard() {
    if (store == null) {
      return;
    }
    String name = offer == null ? null : offer.image();
    try {
      if (imageRegisteredHere && name != null && !containers.usesImage(name)) {
        store.delete(name);
      }
      store.removeUnreferenced(adopted);
    } catch (RuntimeException e) {
      LOG.warn("session {}: cleaning up received layers failed: {}", sessionId, e.getMessage());
    }
    Set<Digest> gone = new HashSet<>(adopted);
    gone.removeIf(store::hasBlob);
    containers.forgetLayers(gone);
  }

  private static Throwable restoreFailure(Throwable cause) {
    return cause instanceof ImageStoreException ? storeFailure(cause)
        : new MigrationFailure.Exception(Code.RESTORE_FAILED, cause.getMessage());
  }

  private static Throwable storeFailure(Throwable cause) {
    if (cause instanceof ImageStoreException store) {
      Code code = store.code() == ImageStoreException.Code.DIGEST_MISMATCH ? Code.LAYER_DIGEST_MISMATCH
          : Code.IMAGE_STORE_FAILED;
      return new MigrationFailure.Exception(code, store.getMessage());
    }
    return cause;
  }
}
