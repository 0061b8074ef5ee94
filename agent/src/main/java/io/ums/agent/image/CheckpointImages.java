package io.ums.agent.image;

import io.ums.agent.files.FileTrees;
import io.ums.agent.image.ImageStoreException.Code;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Turns a container checkpoint archive into a checkpoint image and imports it where the node's runtime
 * looks: {@code containers-storage} (what CRI-O and podman read), an OCI layout directory ({@code oci:<dir>}) or
 * a node's containerd ({@code containerd:<socket>[#<namespace>]}, imported with {@code ctr}, see
 * {@link ContainerdImages}).
 * The image has one layer, the archive's contents, and its manifest names the checkpointed container with the
 * annotations CRI-O ({@code io.kubernetes.cri-o.annotations.checkpoint.*}), podman
 * ({@code io.podman.annotations.checkpoint.*}) and containerd ({@code org.criu.checkpoint.*}, checkpointctl's
 * names) look for; CRI-O (or containerd 2.x with {@code enable_experimental_restore_via_create}) then restores a
 * container whose image is this one. The layout is built with {@link OciImageStore} and copied by
 * {@code skopeo}. Blocking: worker threads only.
 */
public final class CheckpointImages {
  public static final String CONTAINERS_STORAGE = "containers-storage";
  /** The {@code ctr} binary a containerd target runs unless told otherwise: looked up on PATH. */
  public static final String DEFAULT_CTR = "ctr";
  static final String CRIO_NAME = "io.kubernetes.cri-o.annotations.checkpoint.name";
  static final String CRIO_ROOTFS_IMAGE_NAME = "io.kubernetes.cri-o.annotations.checkpoint.rootfsImageName";
  static final String PODMAN_NAME = "io.podman.annotations.checkpoint.name";
  static final String PODMAN_ROOTFS_IMAGE_NAME = "io.podman.annotations.checkpoint.rootfsImageName";
  /** podman refuses to restore an image without it, and one naming another runtime than its own. */
  static final String PODMAN_RUNTIME_NAME = "io.podman.annotations.checkpoint.runtime.name";
  /**
   * containerd 2.x's CRI plugin takes an image for a checkpoint when the annotations of the blob its image
   * record points at (our manifest) have this key: checkIfCheckpointOCIImage in
   * internal/cri/server/container_checkpoint_linux.go, checkpointctl's lib.CheckpointAnnotationName.
   */
  static final String CRIU_NAME = "org.criu.checkpoint.container.name";
  static final String CRIU_ROOTFS_IMAGE_NAME = "org.criu.checkpoint.rootfsImageName";
  static final String CRIU_RUNTIME_NAME = "org.criu.checkpoint.runtime.name";
  /** checkpointctl's name for the image id the container ran from (containerd's config.dump rootfsImageRef). */
  static final String CRIU_ROOTFS_IMAGE_ID = "org.criu.checkpoint.rootfsImageID";
  private static final String LAYOUT_REF = "checkpoint";
  /** What every checkpoint image's name starts with ({@link #imageName}). */
  static final String NAME_PREFIX = "localhost/ums-checkpoint/";
  /** In the session's scratch directory: the layout a containerd target imports from, removed right after. */
  private static final String CONTAINERD_LAYOUT = "containerd-layout";

  private final String spec;
  private final Optional<Path> ociDir;
  private final Optional<ContainerdImages> containerd;

  private CheckpointImages(String spec, Optional<Path> ociDir, Optional<ContainerdImages> containerd) {
    this.spec = spec;
    this.ociDir = ociDir;
    this.containerd = containerd;
  }

  /** {@link #parse(String, String)} with {@code ctr} looked up on PATH. */
  public static CheckpointImages parse(String spec) {
    return parse(spec, DEFAULT_CTR);
  }

  /**
   * {@code containers-storage}, {@code oci:<absolute dir>} or {@code containerd:<absolute socket>[#<namespace>]}
   * (namespace {@code k8s.io} by default), the last driven through the {@code ctr} binary {@code ctr}; anything
   * else is an IllegalArgumentException.
   */
  public static CheckpointImages parse(String spec, String ctr) {
    if (CONTAINERS_STORAGE.equals(spec)) {
      return new CheckpointImages(spec, Optional.empty(), Optional.empty());
    }
    if (spec != null && spec.startsWith("oci:") && spec.length() > 4 && Path.of(spec.substring(4)).isAbsolute()) {
      return new CheckpointImages(spec, Optional.of(Path.of(spec.substring(4))), Optional.empty());
    }
    Optional<ContainerdImages> containerd = ContainerdImages.parse(spec, ctr);
    if (containerd.isPresent()) {
      return new CheckpointImages(containerd.get().toString(), Optional.empty(), containerd);
    }
    throw new IllegalArgumentException("checkpoint image store must be " + CONTAINERS_STORAGE
        + ", oci:<absolute directory> or containerd:<absolute socket path>[#<namespace>], got \"" + spec + "\"");
  }

  /** The containerd socket this target imports into, when it is a containerd target. */
  public Optional<Path> containerdSocket() {
    return containerd.map(ContainerdImages::socket);
  }

  /** The containerd namespace this target imports into, when it is a containerd target. */
  public Optional<String> containerdNamespace() {
    return containerd.map(ContainerdImages::namespace);
  }

  @Override
  public String toString() {
    return spec;
  }

  /** {@code localhost/ums-checkpoint/<pod>-<container>:<tag>}, lower-cased into a valid reference. */
  public static String imageName(String pod, String container, String tag) {
    String repository = (pod + "-" + container).toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.-]+", "-")
        .replaceAll("^[^a-z0-9]+", "");
    String safeTag = tag.replaceAll("[^A-Za-z0-9_.-]+", "-");
    return NAME_PREFIX + (repository.isEmpty() ? "container" : repository) + ":" + safeTag;
  }

  /**
   * For a containerd target: an import that builds the image while an archive of {@code archiveSize} bytes
   * arrives ({@link StreamedCheckpointImport}, started here: {@code ctr} runs from now on). Empty for the other
   * targets, which take the archive as a file ({@link #importArchive}).
   */
  public Optional<StreamedCheckpointImport> startStreamedImport(long archiveSize) {
    return containerd.map(target -> StreamedCheckpointImport.start(target, archiveSize));
  }

  /** As {@link #startStreamedImport}, for an archive whose length is known at its end only (several layers). */
  public Optional<StreamedCheckpointImport> startGrowingImport() {
    return containerd.map(StreamedCheckpointImport::startGrowing);
  }

  /**
   * Builds the checkpoint image of {@code archive} (consumed: it becomes the layer) in {@code scratch} and
   * imports it as {@code imageName}. {@code container} is the checkpointed container's name in its pod.
   * On failure whatever reached the store is removed again before the exception propagates.
   */
  public void importArchive(Path archive, Path scratch, String imageName, String container) {
    // before the archive is read and copied: a node without containerd fails in milliseconds, not after seconds
    containerd.ifPresent(ContainerdImages::requireSocket);
    Map<String, String> annotations = annotations(CheckpointArchive.read(archive), container);
    Path layoutDir = scratch.resolve("layout");
    OciImageStore layout = OciImageStore.open(layoutDir, scratch.resolve("layout-scratch"));
    layout.adoptLayerImage(LAYOUT_REF, archive, annotations);
    if (containerd.isPresent()) {
      importIntoContainerd(containerd.get(), layoutDir, scratch.resolve(CONTAINERD_LAYOUT), imageName);
      return;
    }
    try {
      ociDir.ifPresent(CheckpointImages::createDirectories);
      copyLayout(layoutDir, ociDir, imageName);
    } catch (RuntimeException e) {
      remove(imageName);
      throw e;
    }
  }

  /** What CRI-O, podman and containerd look for in a checkpoint image's manifest. */
  static Map<String, String> annotations(CheckpointArchive contents, String container) {
    Map<String, String> annotations = new LinkedHashMap<>();
    annotations.put(CRIO_NAME, container);
    annotations.put(PODMAN_NAME, contents.name().orElse(container));
    annotations.put(CRIU_NAME, container);
    contents.rootfsImageName().ifPresent(image -> {
      annotations.put(CRIO_ROOTFS_IMAGE_NAME, image);
      annotations.put(PODMAN_ROOTFS_IMAGE_NAME, image);
      annotations.put(CRIU_ROOTFS_IMAGE_NAME, image);
    });
    contents.rootfsImageRef().ifPresent(ref -> annotations.put(CRIU_ROOTFS_IMAGE_ID, ref));
    contents.runtime().ifPresent(runtime -> {
      annotations.put(PODMAN_RUNTIME_NAME, runtime);
      annotations.put(CRIU_RUNTIME_NAME, runtime);
    });
    return annotations;
  }

  /**
   * The layout's ref becomes the image's name (what {@code ctr images import} names the image after; an index
   * annotation, so the layer is not copied again), the layout is streamed into containerd and deleted again:
   * containerd keeps its own copy.
   */
  private static void importIntoContainerd(ContainerdImages containerd, Path layoutDir, Path namedLayout,
                                           String imageName) {
    try {
      nameLayoutRef(layoutDir, imageName);
      containerd.importLayout(layoutDir);
    } catch (RuntimeException e) {
      containerd.remove(imageName);
      throw e;
    } finally {
      try {
        FileTrees.delete(namedLayout);
        FileTrees.delete(layoutDir);
      } catch (IOException e) {
        // the session's scratch directory goes with the session anyway
      }
    }
  }

  /** Renames the layout's one ref ({@code org.opencontainers.image.ref.name} in index.json) to {@code name}. */
  private static void nameLayoutRef(Path layoutDir, String name) {
    Path index = layoutDir.resolve("index.json");
    try {
      io.vertx.core.json.JsonObject json = new io.vertx.core.json.JsonObject(Files.readString(index));
      for (Object manifest : json.getJsonArray("manifests")) {
        ((io.vertx.core.json.JsonObject) manifest).getJsonObject("annotations").put(OciImageStore.REF_NAME, name);
      }
      Files.writeString(index, json.encode());
    } catch (IOException | RuntimeException e) {
      throw new ImageStoreException(Code.IO, "cannot name the checkpoint layout " + name + ": " + e.getMessage(), e);
    }
  }

  private static void copyLayout(Path layoutDir, Optional<Path> ociDir, String imageName) {
    List<String> copy = new ArrayList<>(List.of("skopeo", "copy", "--quiet"));
    if (ociDir.isPresent()) {
      // the layer is mostly memory pages: compressing it would cost seconds per GiB and save little
      copy.add("--dest-oci-accept-uncompressed-layers");
    }
    copy.addAll(List.of("oci:" + layoutDir + ":" + LAYOUT_REF, destination(ociDir, imageName)));
    ImageTools.run(Code.IO, copy);
  }

  /** Removes {@code imageName} from the store; a missing image is fine (idempotent). Never throws. */
  public void remove(String imageName) {
    if (containerd.isPresent()) {
      containerd.get().remove(imageName);
      return;
    }
    if (ociDir.isEmpty()) {
      skopeoQuietly("delete", destination(ociDir, imageName));
      return;
    }
    // skopeo 1.9 cannot delete from an OCI layout: the layout is edited like the agent's own store
    try {
      OciImageStore layout = ociLayout();
      if (layout.find(imageName).isPresent()) {
        layout.delete(imageName);
      }
    } catch (ImageStoreException e) {
      // nothing there to remove, or a layout we cannot edit: the caller logs the image it gave up on
    }
  }

  /** Whether the store holds {@code imageName} (tests and the failure path check with it). */
  /**
   * The checkpoint image {@code imageName} has served its restore (its pod runs): from now on the name starts
   * the container's own image, and the checkpoint's bytes leave the node (see {@link ContainerdImages#retire}).
   * Only names this agent gives checkpoint images ({@link #imageName}) are taken.
   *
   * @throws ImageStoreException INVALID for another name, UNSUPPORTED where the store is not containerd,
   *     NOT_FOUND and BASE_MISSING as {@link ContainerdImages#retire}
   */
  public Retirement retire(String imageName) {
    requireCheckpointName(imageName);
    return containerd.orElseThrow(() -> new ImageStoreException(Code.UNSUPPORTED, "checkpoint images in " + spec
        + " are kept as they are: only a containerd store retires them")).retire(imageName);
  }

  /**
   * No pod starts from the checkpoint image {@code imageName} (its pod did not get Ready and was removed): the
   * image leaves the store. Returns the names removed, none when there was no such image.
   *
   * @throws ImageStoreException INVALID for a name that is not a checkpoint image's
   */
  public List<String> discard(String imageName) {
    requireCheckpointName(imageName);
    if (containerd.isPresent()) {
      return containerd.get().discard(imageName);
    }
    if (!exists(imageName)) {
      return List.of();
    }
    remove(imageName);
    return List.of(imageName);
  }

  private static void requireCheckpointName(String imageName) {
    if (imageName == null || !imageName.startsWith(NAME_PREFIX) || imageName.indexOf(':') < 0) {
      throw new ImageStoreException(Code.INVALID, "\"" + imageName + "\" is not a checkpoint image of this agent ("
          + NAME_PREFIX + "<pod>-<container>:<tag>)");
    }
  }

  /**
   * What {@link #retire} did.
   *
   * @param image the checkpoint image's name
   * @param startsFrom the image the name now points at; empty when it had been retired before
   * @param removed the checkpoint's other names removed with it (the CRI plugin's id record)
   */
  public record Retirement(String image, Optional<String> startsFrom, List<String> removed) {}

  public boolean exists(String imageName) {
    if (containerd.isPresent()) {
      return containerd.get().exists(imageName);
    }
    if (ociDir.isPresent()) {
      return Files.exists(ociDir.get().resolve("index.json")) && ociLayout().find(imageName).isPresent();
    }
    return skopeoQuietly("inspect", "--raw", destination(ociDir, imageName));
  }

  private OciImageStore ociLayout() {
    return OciImageStore.open(ociDir.orElseThrow(), ociDir.orElseThrow().resolve(".ums-scratch"));
  }

  private static String destination(Optional<Path> ociDir, String imageName) {
    return ociDir.map(dir -> "oci:" + dir + ":" + imageName).orElse(CONTAINERS_STORAGE + ":" + imageName);
  }

  private static void createDirectories(Path dir) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new ImageStoreException(Code.IO, "cannot create " + dir + ": " + e.getMessage(), e);
    }
  }

  private static boolean skopeoQuietly(String... args) {
    List<String> command = new ArrayList<>(List.of("skopeo"));
    command.addAll(List.of(args));
    try {
      ImageTools.run(Code.IO, command);
      return true;
    } catch (ImageStoreException e) {
      return false;
    }
  }
}
