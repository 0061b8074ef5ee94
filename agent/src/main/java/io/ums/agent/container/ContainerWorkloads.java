package io.ums.agent.container;

import io.ums.agent.criu.CriuDump;
import io.ums.agent.image.Image;
import io.ums.agent.image.LayerCache;
import io.ums.agent.image.LayerDiff;
import io.ums.agent.image.OciImageStore;
import io.ums.agent.workload.InvalidWorkloadSpecException;
import io.ums.agent.workload.LogSink;
import io.ums.agent.workload.Workload;
import io.ums.agent.workload.WorkloadBusyException;
import io.ums.agent.workload.WorkloadSpec;
import io.ums.agent.workload.WorkloadStatus;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
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
  private static final SecureRandom RANDOM = new SecureRandom();

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
      validate(spec);
      String id = newId();
      Image image = store.get(spec.image());
      ContainerDir dir = new ContainerDir(containersRoot.resolve(id));
      try {
        long pid;
        if (isPodman(spec)) {
          dir.create();
          pid = podman.run(id, podman.ensureImage(store, image), spec);
        } else {
          prepareBundle(dir, spec, image, writeCriuConfig(dir, List.of()));
          pid = runc.run(id, dir.bundle(), new OutputRelay(dir.log()));
        }
        Entry entry = new Entry(id, spec, pid, Instant.now(), null, null);
        dir.writeRecord(id, spec, entry.createdAt(), null);
        entries.put(id, entry);
        LOG.info("container {} ({}) started from image {}, pid {}", id, spec.name(), spec.image(), pid);
        return toWorkload(entry);
      } catch (RuntimeException e) {
        discard(id, spec, dir);
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
      discard(id, entry.spec(), new ContainerDir(containersRoot.resolve(id)));
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

  // --- migration support ---

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
    return blocking(() -> {
      Files.createDirectories(imagesDir);
      Files.createDirectories(criuWorkDir);
      runc.pause(id);
      try {
        runc.checkpoint(id, imagesDir, criuWorkDir, pageServer, true);
      } catch (RuntimeException e) {
        thawQuietly(id);
        throw e;
      }
      return null;
    });
  }

  /** Resumes a container frozen by {@link #freezeAndCheckpoint} (a rolled-back migration). */
  public Future<Void> thaw(String id) {
    return blocking(() -> {
      runc.resume(id);
      return null;
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
   * checkpoint ({@code imagesDir} holding all image files, pages included), restores it in this node's
   * network namespace and registers it.
   */
  public Future<Workload> restore(WorkloadSpec spec, Path layerDiff, Path imagesDir, Path criuWorkDir,
                                  String migrationId) {
    return blocking(() -> {
      validate(spec);
      String id = newId();
      Image image = store.get(spec.image());
      ContainerDir dir = new ContainerDir(containersRoot.resolve(id));
      try {
        dir.create();
        if (layerDiff != null) {
          LayerDiff.apply(layerDiff, dir.upper());
        }
        // the source's live connections cannot come back here (its address is not this node's): close them
        prepareBundle(dir, spec, image, writeCriuConfig(dir, List.of("tcp-close")));
        Files.createDirectories(criuWorkDir);
        long pid = runc.restore(id, dir.bundle(), imagesDir, criuWorkDir, new OutputRelay(dir.log()));
        Entry entry = new Entry(id, spec, pid, Instant.now(), migrationId, null);
        dir.writeRecord(id, spec, entry.createdAt(), migrationId);
        entries.put(id, entry);
        LOG.info("container {} ({}) restored by migration {}, pid {}", id, spec.name(), migrationId, pid);
        return toWorkload(entry);
      } catch (RuntimeException | IOException e) {
        discard(id, spec, dir);
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

  /** Restores podman's exported checkpoint archive (a regular file) as a new container and registers it. */
  public Future<Workload> podmanRestore(WorkloadSpec spec, Path archive, String migrationId) {
    return blocking(() -> {
      validate(spec);
      String id = newId();
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
        discard(id, spec, dir);
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
      if (!Files.isDirectory(containersRoot)) {
        return found;
      }
      try (Stream<Path> dirs = Files.list(containersRoot)) {
        for (Path path : dirs.toList()) {
          ContainerDir dir = new ContainerDir(path);
          JsonObject record = dir.readRecord();
          String id = path.getFileName().toString();
          WorkloadSpec spec = record == null ? null : specFrom(record);
          Optional<Long> pid = spec == null ? Optional.empty() : isPodman(spec)
              ? recoverPodman(id)
              : runc.state(id).filter(state -> !"stopped".equals(state.getString("status")))
                  .map(state -> resumeIfFrozen(id, state));
          if (pid.isEmpty()) {
            discard(id, spec, dir);
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

  // --- internals ---

  /** A podman container stopped by an unfinished migration's checkpoint comes back from its kept checkpoint. */
  private Optional<Long> recoverPodman(String id) {
    if (podman.exists(id) && !podman.running(id)) {
      LOG.warn("podman container {} was left checkpointed by an unfinished migration; restoring it", id);
      try {
        podman.restoreKept(id);
      } catch (ContainerException e) {
        LOG.warn("podman container {} could not be restored: {}", id, e.getMessage());
      }
    }
    return podman.running(id) ? podman.pid(id) : Optional.empty();
  }

  /** A container left frozen by a migration the previous agent run did not finish: it runs here again. */
  private long resumeIfFrozen(String id, JsonObject state) {
    if ("paused".equals(state.getString("status"))) {
      LOG.warn("container {} was left frozen by an unfinished migration; resuming it", id);
      runc.resume(id);
    }
    return state.getLong("pid");
  }

  /**
   * The CRIU configuration runc passes on for this container's checkpoints and restores: what any program
   * needs from a dump, plus {@code restoreSettings} (a restore ignores the dump-only lines).
   */
  private static Path writeCriuConfig(ContainerDir dir, List<String> restoreSettings) throws IOException {
    List<String> lines = new ArrayList<>(CriuDump.GENERAL_PROGRAM_SETTINGS);
    lines.addAll(restoreSettings);
    Files.createDirectories(dir.root());
    return Files.write(dir.root().resolve("criu.conf"), lines);
  }

  private void prepareBundle(ContainerDir dir, WorkloadSpec spec, Image image, Path criuConfig) {
    dir.create();
    List<Path> lowerDirs = layers.lowerDirs(image);
    List<String> imageEnv = imageEnv(image);
    dir.writeConfig(OciRuntimeSpec.build(spec.name(), spec.command(), imageEnv, spec.env(), criuConfig));
    new OverlayRootfs(lowerDirs, dir.upper(), dir.work(), dir.rootfs()).mount();
  }

  private List<String> imageEnv(Image image) {
    JsonObject config = new JsonObject(new String(store.readBlob(image.config()), StandardCharsets.UTF_8));
    JsonArray env = config.getJsonObject("config", new JsonObject()).getJsonArray("Env", new JsonArray());
    List<String> entries = new ArrayList<>();
    env.forEach(value -> entries.add(String.valueOf(value)));
    return entries;
  }

  private void discard(String id, WorkloadSpec spec, ContainerDir dir) {
    if (spec != null && isPodman(spec)) {
      podman.remove(id);
    } else {
      runc.destroy(id);
      new OverlayRootfs(List.of(), dir.upper(), dir.work(), dir.rootfs()).unmount();
    }
    try {
      io.ums.agent.image.FileTrees.delete(dir.root());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
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

  private static WorkloadSpec specFrom(JsonObject record) {
    List<String> command = new ArrayList<>();
    record.getJsonArray("command", new JsonArray()).forEach(arg -> command.add(String.valueOf(arg)));
    Map<String, String> env = new java.util.HashMap<>();
    record.getJsonObject("env", new JsonObject()).forEach(e -> env.put(e.getKey(), String.valueOf(e.getValue())));
    return new WorkloadSpec(record.getString("name"), record.getString("kind"), record.getString("runtime"),
        record.getString("image"), command, env);
  }

  private void validate(WorkloadSpec spec) {
    if (!handles(spec)) {
      throw new InvalidWorkloadSpecException("runtime", "must be \"runc\" or \"podman\", got " + spec.runtime());
    }
    if (spec.image() == null || spec.image().isBlank()) {
      throw new InvalidWorkloadSpecException("image", "required for a container workload");
    }
    if (store.find(spec.image()).isEmpty()) {
      throw new InvalidWorkloadSpecException("image", "no image named \"" + spec.image()
          + "\" in this agent's store (import it with ./ums image import or POST /v1/images)");
    }
    if (spec.command().isEmpty()) {
      throw new InvalidWorkloadSpecException("command", "must name the program to run inside the container");
    }
  }

  private static String newId() {
    byte[] bytes = new byte[6];
    RANDOM.nextBytes(bytes);
    return "c-" + HexFormat.of().formatHex(bytes);
  }

  private <T> Future<T> blocking(Callable<T> work) {
    return vertx.executeBlocking(work, false);
  }
}
