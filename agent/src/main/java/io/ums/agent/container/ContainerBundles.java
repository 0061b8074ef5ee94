package io.ums.agent.container;

import io.ums.agent.criu.CriuDump;
import io.ums.agent.image.Image;
import io.ums.agent.image.LayerCache;
import io.ums.agent.image.OciImageStore;
import io.ums.agent.workload.InvalidWorkloadSpecException;
import io.ums.agent.workload.WorkloadSpec;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a container's spec becomes a runnable bundle: the spec checked against the store, its record read
 * back, the OCI config with the image's environment, the overlay root filesystem, CRIU's configuration; and
 * what the runtimes do to a container outside its registry entry: discard it, bring it back after a restart.
 * Blocking.
 */
final class ContainerBundles {
  private static final SecureRandom RANDOM = new SecureRandom();

  private static final Logger LOG = LoggerFactory.getLogger(ContainerBundles.class);

  private final OciImageStore store;
  private final LayerCache layers;
  private final Runc runc;
  private final Podman podman;

  ContainerBundles(OciImageStore store, LayerCache layers, Runc runc, Podman podman) {
    this.store = store;
    this.layers = layers;
    this.runc = runc;
    this.podman = podman;
  }

  /**
   * The CRIU configuration runc passes on for this container's checkpoints and restores: what any program
   * needs from a dump, plus {@code restoreSettings} (a restore ignores the dump-only lines).
   */
  static Path writeCriuConfig(ContainerDir dir, List<String> restoreSettings) throws IOException {
    List<String> lines = new ArrayList<>(CriuDump.GENERAL_PROGRAM_SETTINGS);
    lines.addAll(restoreSettings);
    Files.createDirectories(dir.root());
    return Files.write(dir.root().resolve("criu.conf"), lines);
  }

  void prepare(ContainerDir dir, WorkloadSpec spec, Image image, Path criuConfig) {
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

  static WorkloadSpec specFrom(JsonObject record) {
    List<String> command = new ArrayList<>();
    record.getJsonArray("command", new JsonArray()).forEach(arg -> command.add(String.valueOf(arg)));
    Map<String, String> env = new HashMap<>();
    record.getJsonObject("env", new JsonObject()).forEach(e -> env.put(e.getKey(), String.valueOf(e.getValue())));
    return new WorkloadSpec(record.getString("name"), record.getString("kind"), record.getString("runtime"),
        record.getString("image"), command, env);
  }

  void validate(WorkloadSpec spec) {
    if (!ContainerWorkloads.handles(spec)) {
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

  static String newId() {
    byte[] bytes = new byte[6];
    RANDOM.nextBytes(bytes);
    return "c-" + HexFormat.of().formatHex(bytes);
  }

  /** A podman container stopped by an unfinished migration's checkpoint comes back from its kept checkpoint. */
  /** A podman container that exists and does not run: checkpointed by a migration. Blocking. */
  boolean podmanCheckpointed(String id) {
    return podman.exists(id) && !podman.running(id);
  }

  Optional<Long> recoverPodman(String id) {
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
  /** Resumes the container if it is frozen; true if it runs then. Blocking. */
  boolean thawIfFrozen(String id) {
    Optional<JsonObject> state = runc.state(id);
    if (state.isPresent() && "paused".equals(state.get().getString("status"))) {
      runc.resume(id);
    }
    return runc.state(id).map(now -> "running".equals(now.getString("status"))).orElse(false);
  }

  long resumeIfFrozen(String id, JsonObject state, Set<String> keepFrozen) {
    if (keepFrozen.contains(id)) {
      LOG.warn("container {} stays frozen until the destination's verdict on its migration", id);
    } else if ("paused".equals(state.getString("status"))) {
      LOG.warn("container {} was left frozen by an unfinished migration; resuming it", id);
      runc.resume(id);
    }
    return state.getLong("pid");
  }

  void discard(String id, WorkloadSpec spec, ContainerDir dir) {
    if (spec != null && ContainerWorkloads.isPodman(spec)) {
      podman.remove(id);
    } else {
      runc.destroy(id);
      new OverlayRootfs(List.of(), dir.upper(), dir.work(), dir.rootfs()).unmount();
    }
    try {
      io.ums.agent.files.FileTrees.delete(dir.root());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
