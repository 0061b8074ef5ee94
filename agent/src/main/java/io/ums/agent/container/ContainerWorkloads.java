package io.ums.agent.container;

import io.ums.agent.image.Image;
import io.ums.agent.image.LayerCache;
import io.ums.agent.image.LayerDiff;
import io.ums.agent.image.OciImageStore;
import io.ums.agent.workload.LogSink;
import io.ums.agent.workload.Workload;
import io.ums.agent.workload.WorkloadBusyException;
import io.ums.agent.workload.WorkloadSpec;
import io.ums.agent.workload.WorkloadStatus;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The workloads of kind "container" with runtime "runc": each an OCI bundle whose root filesystem is an
 * overlay of the image's unpacked layers plus the container's own upper dir, run detached in the node's
 * network namespace. Besides the {@link io.ums.agent.workload.Workloads}-shaped registry it offers what a
 * container migration needs: freeze + checkpoint, the writable layer as a diff, resume, restore.
 * All runtime and file work runs on worker threads.
 */
public final class ContainerWorkloads {
  public static final String RUNTIME_RUNC = "runc";
  public static final String RUNTIME_PODMAN = "podman";
  private static final Logger LOG = LoggerFactory.getLogger(ContainerWorkloads.class);

  private record Entry(String id, WorkloadSpec spec, long pid, Instant createdAt, String restoredFrom,
                       String migrationId) {
    Entry migrating(String migration) {
      return new Entry(id, spec, pid, createdAt, restoredFrom, migration);
    }
  }

  private final Vertx vertx;
  private final OciImageStore store;
  private final LayerCache layers;
  private final Runc runc;
  private final Podman podman;
  private final Path containersRoot;
  private final Map<String, Entry> entries = new ConcurrentHashMap<>();
  private final ContainerBundles bundles;

  /**
   * @param workDir the agent's work dir: containers live in {@code containers/}, runc state in {@code runc/}
   * @param netnsPath the node's network namespace ({@code /run/netns/...}) when the agent itself runs
   *                  outside it, else null
   */
  public ContainerWorkloads(Vertx vertx, OciImageStore store, LayerCache layers, Path workDir, String netnsPath) {
    this.vertx = vertx;
    this.store = store;
    this.layers = layers;
    this.runc = new Runc(workDir.resolve("runc"), netnsPath);
    this.podman = new Podman(netnsPath);
    this.containersRoot = workDir.resolve("containers");
    this.bundles = new ContainerBundles(store, layers, runc, podman);
  }

  /** True when this registry runs the spec (kind "container", runtime "runc", "podman" or unset = runc). */
  public static boolean handles(WorkloadSpec spec) {
    return WorkloadSpec.KIND_CONTAINER.equals(spec.kind())
        && (spec.runtime() == null || RUNTIME_RUNC.equals(spec.runtime()) || RUNTIME_PODMAN.equals(spec.runtime()));
  }

  static boolean isPodman(WorkloadSpec spec) {
    return RUNTIME_PODMAN.equals(spec.runtime());
  }

  public Optional<Workload> find(String id) {
    return Optional.ofNullable(entries.get(id)).map(this::toWorkload);
  }

  public List<Workload> list() {
    return entries.values().stream().map(this::toWorkload).toList();
  }

  /** Whether any container (running or not yet removed) uses the image: it must not be deleted then. */
  public boolean usesImage(String imageName) {
    return entries.values().stream().anyMatch(entry -> imageName.equals(entry.spec().image()));
  }

  public Future<Workload> launch(WorkloadSpec spec) {
    return blocking(() -> {
      bundles.validate(spec);
      String id = ContainerBundles.newId();
      Image image = store.get(spec.image());
      ContainerDir dir = new ContainerDir(containersRoot.resolve(id));
      try {
        long pid;
        if (isPodman(spec)) {
          dir.create();
          pid = podman.run(id, podman.ensureImage(store, image), spec);
        } else {
          bundles.prepare(dir, spec, image, ContainerBundles.writeCriuConfig(dir, List.of()));
          pid = runc.run(id, dir.bundle(), new OutputRelay(dir.log()));
        }
        Entry entry = new Entry(id, spec, pid, Instant.now(), null, null);
        dir.writeRecord(id, spec, entry.createdAt(), null);
        entries.put(id, entry);
        LOG.info("container {} ({}) started from image {}, pid {}", id, spec.name(), spec.image(), pid);
        return toWorkload(entry);
      } catch (RuntimeException e) {
        bundles.discard(id, spec, dir);
        throw e;
      }
    });
  }

  public Future<Workload> beginMigration(String id, String migrationId) {
    Entry entry = entries.get(id);
    if (entry == null) {
      return Future.failedFuture(new NoSuchElementException("no workload " + id));
    }
    if (entry.migrationId() != null) {
      return Future.failedFuture(new WorkloadBusyException(id, entry.migrationId()));
    }
    Entry claimed = entry.migrating(migrationId);
    if (!entries.replace(id, entry, claimed)) {
      return Future.failedFuture(new WorkloadBusyException(id, entries.get(id).migrationId()));
    }
    return Future.succeededFuture(toWorkload(claimed));
  }

  public void endMigration(String id) {
    entries.computeIfPresent(id, (key, entry) -> entry.migrating(null));
  }

  public Future<Void> remove(String id) {
    Entry entry = entries.get(id);
    if (entry == null) {
      return Future.failedFuture(new NoSuchElementException("no workload " + id));
    }
    return blocking(() -> {
      bundles.discard(id, entry.spec(), new ContainerDir(containersRoot.resolve(id)));
      entries.remove(id);
      LOG.info("container {} removed", id);
      return null;
    });
  }

  public Future<String> logs(String id) {
    if (!entries.containsKey(id)) {
      return Future.failedFuture(new NoSuchElementException("no workload " + id));
    }
    if (isPodman(entries.get(id).spec())) {
      return blocking(() -> podman.logs(id));
    }
    return blocking(() -> {
      Path log = new ContainerDir(containersRoot.resolve(id)).log();
      return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
    });
  }

  public OciImageStore store() {
    return store;
  }

  /** Unpacks the image's layers into the layer cache ahead of a restore (podman keeps its own copy). Blocking. */
  public void prepareLayers(Image image) {
    layers.lowerDirs(image);
  }

  /** Drops unpacked copies of layers whose blobs are gone (a failed migration's). Blocking. */
  public void forgetLayers(java.util.Collection<io.ums.agent.image.Digest> digests) {
    digests.forEach(layers::evict);
  }

  /** The image the container runs from. */
  public Image imageOf(String id) {
    return store.get(entry(id).spec().image());
  }

  /**
   * Freezes the container (cgroup freezer) and dumps it, leaving it frozen: the source of a migration is
   * only removed once the destination runs, and {@link #thaw} resumes it on any failure. Pages go to
   * {@code pageServer} ("host:port") when given, else into {@code imagesDir}.
   */
  public Future<Void> freezeAndCheckpoint(String id, Path imagesDir, Path criuWorkDir, String pageServer) {
    return frozen(id, imagesDir, criuWorkDir, () -> {
      runc.checkpoint(id, imagesDir, criuWorkDir, pageServer, true);
      return null;
    });
  }

  /** Pauses the container and starts its post-copy checkpoint ({@link Runc#startLazyCheckpoint}). */
  public Future<Process> freezeAndStartLazyCheckpoint(String id, Path imagesDir, Path criuWorkDir, String pageServer,
                                                      Path statusFile) {
    return frozen(id, imagesDir, criuWorkDir,
        () -> runc.startLazyCheckpoint(id, imagesDir, criuWorkDir, pageServer, statusFile));
  }

  /** Pauses the container and runs {@code checkpoint}; a checkpoint that fails thaws it. */
  private <T> Future<T> frozen(String id, Path imagesDir, Path criuWorkDir, Callable<T> checkpoint) {
    return blocking(() -> {
      Files.createDirectories(imagesDir);
      Files.createDirectories(criuWorkDir);
      runc.pause(id);
      try {
        return checkpoint.call();
      } catch (Exception e) {
        thawQuietly(id);
        throw e;
      }
    });
  }

  /** Resumes a container frozen by {@link #freezeAndCheckpoint} (a rolled-back migration). */
  public Future<Void> thaw(String id) {
    return blocking(() -> {
      runc.resume(id);
      return null;
    });
  }

  /** Resumes the container if it is frozen (a migration's record settled after a restart); true if it runs. */
  public Future<Boolean> thawIfFrozen(String id) {
    return blocking(() -> bundles.thawIfFrozen(id));
  }

  /**
   * Resumes a container a migration left stopped and held for its verdict: a runc container frozen, a podman
   * container checkpointed (restored from the checkpoint podman keeps). True if it runs then.
   */
  public Future<Boolean> resumeHeld(String id) {
    Entry entry = entries.get(id);
    if (entry == null || !isPodman(entry.spec())) {
      return thawIfFrozen(id);
    }
    return podmanRollback(id).map(resumed -> {
      endMigration(id);
      return true;
    });
  }

  /** Writes the container's writable layer (new, changed and deleted files) as an OCI layer diff tar. */
  public Future<Long> writeLayerDiff(String id, Path target) {
    ContainerDir dir = new ContainerDir(containersRoot.resolve(entry(id).id()));
    return blocking(() -> {
      try (OutputStream out = Files.newOutputStream(target)) {
        LayerDiff.write(dir.upper(), out);
      }
      return Files.size(target);
    });
  }

  /**
   * Rebuilds a container on this node from its spec, the image in the store, its writable layer diff and a
   * checkpoint ({@code imagesDir}: all image files, pages included unless {@code lazyPages}: then a
   * {@code criu lazy-pages} daemon in {@code criuWorkDir} fetches them), restores it here and registers it.
   */
  public Future<Workload> restore(WorkloadSpec spec, Path layerDiff, Path imagesDir, Path criuWorkDir,
                                  String migrationId, boolean lazyPages) {
    return blocking(() -> {
      bundles.validate(spec);
      String id = ContainerBundles.newId();
      Image image = store.get(spec.image());
      ContainerDir dir = new ContainerDir(containersRoot.resolve(id));
      try {
        dir.create();
        if (layerDiff != null) {
          LayerDiff.apply(layerDiff, dir.upper());
        }
        // the source's live connections cannot come back here (its address is not this node's): close them
        bundles.prepare(dir, spec, image, ContainerBundles.writeCriuConfig(dir, List.of("tcp-close")));
        Files.createDirectories(criuWorkDir);
        long pid = runc.restore(id, dir.bundle(), imagesDir, criuWorkDir, new OutputRelay(dir.log()), lazyPages);
        Entry entry = new Entry(id, spec, pid, Instant.now(), migrationId, null);
        dir.writeRecord(id, spec, entry.createdAt(), migrationId);
        entries.put(id, entry);
        LOG.info("container {} ({}) restored by migration {}, pid {}", id, spec.name(), migrationId, pid);
        return toWorkload(entry);
      } catch (RuntimeException | IOException e) {
        bundles.discard(id, spec, dir);
        throw e;
      }
    });
  }

  /** The container's runtime is podman (its migration streams podman's checkpoint archive). */
  public boolean runsOnPodman(String id) {
    return isPodman(entry(id).spec());
  }

  /**
   * Checkpoints a podman container into {@code export} (a FIFO the caller reads). The container stops;
   * {@link #podmanRollback} restores it from the checkpoint podman keeps locally.
   */
  public Future<Void> podmanCheckpoint(String id, Path export) {
    return blocking(() -> {
      podman.checkpoint(id, export);
      return null;
    });
  }

  /** Brings a podman container back after a failed migration; a no-op when it still runs. */
  public Future<Void> podmanRollback(String id) {
    return blocking(() -> {
      if (!podman.running(id)) {
        podman.restoreKept(id);
      }
      long pid = podman.pid(id).orElseThrow(() ->
          new ContainerException(ContainerException.Code.RESTORE_FAILED, "container " + id + " did not resume"));
      entries.computeIfPresent(id, (key, entry) -> new Entry(entry.id(), entry.spec(), pid, entry.createdAt(),
          entry.restoredFrom(), entry.migrationId()));
      return null;
    });
  }

  /** A name for a container this registry will create (e.g. for {@link #podmanRestore}). */
  public static String newContainerId() {
    return ContainerBundles.newId();
  }

  /** The command that removes podman container {@code id} (what a restore guard runs if this agent dies). */
  public List<String> podmanRemoveCommand(String id) {
    return podman.removeCommand(id);
  }

  /** Restores podman's exported checkpoint archive (a regular file) as new container {@code id}; registers it. */
  public Future<Workload> podmanRestore(WorkloadSpec spec, Path archive, String migrationId, String id) {
    return blocking(() -> {
      bundles.validate(spec);
      ContainerDir dir = new ContainerDir(containersRoot.resolve(id));
      try {
        dir.create();
        podman.ensureImage(store, store.get(spec.image()));
        long pid = podman.restoreImport(id, archive);
        Entry entry = new Entry(id, spec, pid, Instant.now(), migrationId, null);
        dir.writeRecord(id, spec, entry.createdAt(), migrationId);
        entries.put(id, entry);
        LOG.info("podman container {} ({}) restored by migration {}, pid {}", id, spec.name(), migrationId, pid);
        return toWorkload(entry);
      } catch (RuntimeException e) {
        bundles.discard(id, spec, dir);
        throw e;
      }
    });
  }

  /** The log of a container, for callers that register it elsewhere. */
  public LogSink logSink(String id) {
    return new LogSink(new ContainerDir(containersRoot.resolve(entry(id).id())).log());
  }

  /**
   * Finds the containers a previous agent run left in the work dir (a restarted agent keeps them); drops
   * directories whose container is gone.
   */
  public Future<List<Workload>> recover() {
    return blocking(() -> {
      List<Workload> found = new ArrayList<>();
      Map<String, String> keepStopped = HeldFrozen.awaitingVerdict(containersRoot.getParent());
      if (!Files.isDirectory(containersRoot)) {
        return found;
      }
      try (Stream<Path> dirs = Files.list(containersRoot)) {
        for (Path path : dirs.toList()) {
          ContainerDir dir = new ContainerDir(path);
          JsonObject record = dir.readRecord();
          String id = path.getFileName().toString();
          WorkloadSpec spec = record == null ? null : ContainerBundles.specFrom(record);
          if (spec != null && isPodman(spec) && keepStopped.containsKey(id) && bundles.podmanCheckpointed(id)) {
            // restoring it from its checkpoint now could make a second copy beside the destination's
            LOG.warn("podman container {} stays checkpointed until the destination's verdict on migration {}", id,
                keepStopped.get(id));
            Entry held = new Entry(id, spec, 0, Instant.parse(record.getString("createdAt")),
                record.getString("restoredFrom"), keepStopped.get(id));
            entries.put(id, held);
            found.add(toWorkload(held));
            continue;
          }
          Optional<Long> pid = spec == null ? Optional.empty() : isPodman(spec)
              ? bundles.recoverPodman(id)
              : runc.state(id).filter(state -> !"stopped".equals(state.getString("status")))
                  .map(state -> bundles.resumeIfFrozen(id, state, keepStopped.keySet()));
          if (pid.isEmpty()) {
            bundles.discard(id, spec, dir);
            continue;
          }
          Entry entry = new Entry(id, spec, pid.get(),
              Instant.parse(record.getString("createdAt")), record.getString("restoredFrom"), null);
          entries.put(id, entry);
          found.add(toWorkload(entry));
        }
      }
      return found;
    });
  }

  private void thawQuietly(String id) {
    try {
      runc.resume(id);
    } catch (RuntimeException e) {
      LOG.warn("container {} could not be resumed after a failed checkpoint: {}", id, e.getMessage());
    }
  }

  private Entry entry(String id) {
    Entry entry = entries.get(id);
    if (entry == null) {
      throw new NoSuchElementException("no workload " + id);
    }
    return entry;
  }

  private Workload toWorkload(Entry entry) {
    WorkloadStatus status = entry.migrationId() != null ? WorkloadStatus.MIGRATING : WorkloadStatus.RUNNING;
    return new Workload(entry.id(), entry.spec(), entry.pid(), status, entry.createdAt(), entry.restoredFrom());
  }

  private <T> Future<T> blocking(Callable<T> work) {
    return vertx.executeBlocking(work, false);
  }
}
