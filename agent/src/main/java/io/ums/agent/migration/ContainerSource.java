package io.ums.agent.migration;

import io.ums.agent.container.ContainerWorkloads;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.image.Image;
import io.ums.agent.workload.Workload;
import io.ums.protocol.IncomingChannel;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the runc and podman sources share: the image offered first (the container still runs), the commit
 * (the destination runs the container: the frozen source goes, or resumes with keep), and the byte counts.
 * A runtime adds its checkpoint, what it sends after it, and how its source resumes.
 */
abstract class ContainerSource implements SourceBackend {
  private static final Logger LOG = LoggerFactory.getLogger(ContainerSource.class);
  private static final String DESCRIPTORS = "descriptors.json";

  protected final SourceSession session;
  protected final Vertx vertx;
  protected final Workload workload;
  protected final boolean keep;
  protected final ContainerWorkloads containers;
  protected final LayerOffer layers;
  protected long freezeStartNanos = -1;
  protected long imageBytes;
  private Image image;

  ContainerSource(SourceSession session, Workload workload, boolean keep, ContainerWorkloads containers) {
    this.session = session;
    this.vertx = session.deps().vertx();
    this.workload = workload;
    this.keep = keep;
    this.containers = containers;
    this.layers = new LayerOffer(session, containers.store());
  }

  @Override
  public Future<Void> prepare() {
    return vertx.executeBlocking(() -> {
      Files.createDirectories(session.dir().resolve("images"));
      image = containers.imageOf(workload.id());
      return null;
    }, false);
  }

  /** Offers the image and sends the missing layers, then checkpoints with the runtime. */
  @Override
  public Future<Void> checkpoint() {
    return layers.send(image).compose(ignored -> {
      if (session.finishing()) {
        return Future.failedFuture(new MigrationFailure.Exception(Code.ABORTED, "migration already ended"));
      }
      return checkpointWithRuntime();
    });
  }

  protected abstract Future<Void> checkpointWithRuntime();

  /** Brings the checkpointed source back (runc thaws it, podman restores its kept checkpoint). */
  protected abstract Future<Void> resumeSource();

  @Override
  public boolean onPeerChannel(IncomingChannel channel) {
    return layers.onPeerChannel(channel);
  }

  protected RestoreManifest manifest() {
    return RestoreManifest.forWorkload(session.id(), session.deps().node(), workload.id(), workload.spec());
  }

  protected Future<Void> sendFile(String kind, Path file, String name) {
    return vertx.fileSystem().open(file.toString(), new OpenOptions().setRead(true).setWrite(false))
        .compose(in -> session.connection().openChannel(kind, new JsonObject().put("name", name))
            .compose(channel -> in.pipeTo(channel).map(ignored -> channel.bytesWritten()))
            .eventually(in::close))
        .map(bytes -> {
          imageBytes += bytes;
          return null;
        });
  }

  /** After a runc checkpoint: CRIU's image files, runc's descriptors, the writable layer. */
  protected Future<Void> sendRuncCheckpointFiles() {
    Path images = session.dir().resolve("images");
    Path diff = session.dir().resolve("layer-diff.tar");
    return containers.writeLayerDiff(workload.id(), diff)
        .compose(ignored -> vertx.executeBlocking(() -> ImageFiles.list(images), false))
        .compose(files -> ImageFiles.send(vertx, session.connection(), files))
        .compose(bytes -> {
          imageBytes += bytes;
          return sendFile(Channels.RUNTIME_FILE, images.resolve(DESCRIPTORS), DESCRIPTORS);
        })
        .compose(ignored -> sendFile(Channels.LAYER_DIFF, diff, "layer-diff.tar"));
  }

  @Override
  public Future<Void> commit(MigrationResult result) {
    session.status().timing("downtimeMs", MigrationEvents.millis(freezeStartNanos, System.nanoTime()));
    session.status().destinationWorkloadId(result.workloadId().orElse(null));
    LOG.info("migration {}: destination runs container {}, {} the source", session.id(),
        result.workloadId().orElse(null), keep ? "resuming (keep)" : "removing");
    session.deps().workloads().endMigration(workload.id());
    return keep ? resumeSource() : session.deps().workloads().remove(workload.id());
  }

  /** After the runtime's own rollback ({@code resumed}): the migration ends, the source runs (or not). */
  protected Future<MigrationPhase> rolledBack(Future<Void> resumed) {
    return resumed.transform(result -> {
      session.deps().workloads().endMigration(workload.id());
      return result.succeeded() ? Future.succeededFuture(MigrationPhase.ROLLED_BACK)
          : Future.failedFuture(new MigrationFailure.Exception(Code.ROLLBACK_FAILED,
              "the source container did not resume: " + result.cause().getMessage()));
    });
  }

  /** Pages (CRIU's page stream, or podman's archive), images, layers. */
  protected void countBytes(MigrationStatus status, long pageBytes) {
    status.bytes("pages", pageBytes);
    status.bytes("images", imageBytes);
    status.bytes("raw", pageBytes + imageBytes + layers.bytesSent());
  }

  @Override
  public String logsSubdirectory() {
    return "criu-work";
  }
}
