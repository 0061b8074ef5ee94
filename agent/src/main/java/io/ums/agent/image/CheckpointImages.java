package io.ums.agent.image;

import io.ums.agent.image.ImageStoreException.Code;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Turns a container checkpoint archive into a checkpoint image and imports it where the node's runtime
 * looks: {@code containers-storage} (what CRI-O and podman read) or an OCI layout directory ({@code oci:<dir>}).
 * The image has one layer, the archive's contents, and its manifest names the checkpointed container with the
 * annotations CRI-O ({@code io.kubernetes.cri-o.annotations.checkpoint.*}), podman
 * ({@code io.podman.annotations.checkpoint.*}) and containerd ({@code org.criu.checkpoint.*}, checkpointctl's
 * names) look for; CRI-O (or containerd 2.x with {@code enable_experimental_restore_via_create}) then restores a
 * container whose image is this one. The layout is built with {@link OciImageStore} and copied by
 * {@code skopeo}. Blocking: worker threads only.
 */
public final class CheckpointImages {
  public static final String CONTAINERS_STORAGE = "containers-storage";
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
  private static final String LAYOUT_REF = "checkpoint";
  private static final long SKOPEO_TIMEOUT_SECONDS = 600;

  private final String spec;
  private final Optional<Path> ociDir;

  private CheckpointImages(String spec, Optional<Path> ociDir) {
    this.spec = spec;
    this.ociDir = ociDir;
  }

  /** {@code containers-storage} or {@code oci:<absolute dir>}; anything else is an IllegalArgumentException. */
  public static CheckpointImages parse(String spec) {
    if (CONTAINERS_STORAGE.equals(spec)) {
      return new CheckpointImages(spec, Optional.empty());
    }
    if (spec != null && spec.startsWith("oci:") && spec.length() > 4 && Path.of(spec.substring(4)).isAbsolute()) {
      return new CheckpointImages(spec, Optional.of(Path.of(spec.substring(4))));
    }
    throw new IllegalArgumentException("checkpoint image store must be " + CONTAINERS_STORAGE
        + " or oci:<absolute directory>, got \"" + spec + "\"");
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
    return "localhost/ums-checkpoint/" + (repository.isEmpty() ? "container" : repository) + ":" + safeTag;
  }

  /**
   * Builds the checkpoint image of {@code archive} (consumed: it becomes the layer) in {@code scratch} and
   * imports it as {@code imageName}. {@code container} is the checkpointed container's name in its pod.
   * On failure whatever reached the store is removed again before the exception propagates.
   */
  public void importArchive(Path archive, Path scratch, String imageName, String container) {
    CheckpointArchive contents = CheckpointArchive.read(archive);
    Map<String, String> annotations = new LinkedHashMap<>();
    annotations.put(CRIO_NAME, container);
    annotations.put(PODMAN_NAME, contents.name().orElse(container));
    annotations.put(CRIU_NAME, container);
    contents.rootfsImageName().ifPresent(image -> {
      annotations.put(CRIO_ROOTFS_IMAGE_NAME, image);
      annotations.put(PODMAN_ROOTFS_IMAGE_NAME, image);
      annotations.put(CRIU_ROOTFS_IMAGE_NAME, image);
    });
    contents.runtime().ifPresent(runtime -> {
      annotations.put(PODMAN_RUNTIME_NAME, runtime);
      annotations.put(CRIU_RUNTIME_NAME, runtime);
    });
    Path layoutDir = scratch.resolve("layout");
    OciImageStore layout = OciImageStore.open(layoutDir, scratch.resolve("layout-scratch"));
    layout.adoptLayerImage(LAYOUT_REF, archive, annotations);
    try {
      ociDir.ifPresent(CheckpointImages::createDirectories);
      List<String> copy = new ArrayList<>(List.of("copy", "--quiet"));
      if (ociDir.isPresent()) {
        // the layer is mostly memory pages: compressing it would cost seconds per GiB and save little
        copy.add("--dest-oci-accept-uncompressed-layers");
      }
      copy.addAll(List.of("oci:" + layoutDir + ":" + LAYOUT_REF, destination(imageName)));
      skopeo(Code.IO, copy.toArray(String[]::new));
    } catch (RuntimeException e) {
      remove(imageName);
      throw e;
    }
  }

  /** Removes {@code imageName} from the store; a missing image is fine (idempotent). Never throws. */
  public void remove(String imageName) {
    if (ociDir.isEmpty()) {
      skopeoQuietly("delete", destination(imageName));
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
  public boolean exists(String imageName) {
    if (ociDir.isPresent()) {
      return Files.exists(ociDir.get().resolve("index.json")) && ociLayout().find(imageName).isPresent();
    }
    return skopeoQuietly("inspect", "--raw", destination(imageName));
  }

  private OciImageStore ociLayout() {
    return OciImageStore.open(ociDir.orElseThrow(), ociDir.orElseThrow().resolve(".ums-scratch"));
  }

  private String destination(String imageName) {
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
    try {
      skopeo(Code.IO, args);
      return true;
    } catch (ImageStoreException e) {
      return false;
    }
  }

  private static void skopeo(Code failure, String... args) {
    List<String> command = new ArrayList<>(List.of("skopeo"));
    command.addAll(List.of(args));
    Path capture = null;
    try {
      capture = Files.createTempFile("ums-skopeo-", ".out");
      Process process = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
          .redirectErrorStream(true).redirectOutput(capture.toFile()).start();
      if (!process.waitFor(SKOPEO_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        throw new ImageStoreException(failure, String.join(" ", command) + " timed out");
      }
      if (process.exitValue() != 0) {
        throw new ImageStoreException(failure, String.join(" ", command) + " failed (exit " + process.exitValue()
            + "): " + lastLine(Files.readString(capture)));
      }
    } catch (IOException e) {
      throw new ImageStoreException(failure, String.join(" ", command) + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ImageStoreException(failure, "interrupted: " + String.join(" ", command));
    } finally {
      if (capture != null) {
        capture.toFile().delete();
      }
    }
  }

  private static String lastLine(String output) {
    String[] lines = output.strip().split("\n");
    return lines[lines.length - 1];
  }
}
