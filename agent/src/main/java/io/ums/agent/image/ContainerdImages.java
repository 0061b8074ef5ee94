package io.ums.agent.image;

import io.ums.agent.image.ImageStoreException.Code;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A node's containerd as the target of checkpoint images ({@code containerd:<socket>[#<namespace>]}), driven
 * through {@code ctr}: an OCI layout is streamed into {@code ctr images import} as an OCI archive, and removed
 * with {@code ctr images rm}. The namespace is {@code k8s.io} unless given: the one the CRI plugin (and so the
 * kubelet) reads images from. Blocking: worker threads only.
 *
 * @param socket containerd's gRPC socket, absolute
 * @param namespace containerd namespace the image goes to
 * @param ctr the {@code ctr} binary (a path, or a name looked up on PATH)
 */
record ContainerdImages(Path socket, String namespace, String ctr) {
  static final String PREFIX = "containerd:";
  static final String CRI_NAMESPACE = "k8s.io";
  /** containerd's own rule for namespace names (namespaces.Validate / identifiers.Validate). */
  /** Per ctr binary: whether its import has {@code --local}. */
  private static final java.util.concurrent.ConcurrentHashMap<String, Boolean> LOCAL_IMPORT =
      new java.util.concurrent.ConcurrentHashMap<>();
  /** The flag as ctr's help lists it: first on its line. */
  private static final Pattern LOCAL_FLAG = Pattern.compile("(?m)^\\s*--local\\s");
  private static final Pattern NAMESPACE = Pattern.compile("[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*");

  /** Empty when {@code spec} is not a containerd target at all; IllegalArgumentException when it is a bad one. */
  static Optional<ContainerdImages> parse(String spec, String ctr) {
    if (spec == null || !spec.startsWith(PREFIX)) {
      return Optional.empty();
    }
    String rest = spec.substring(PREFIX.length());
    int hash = rest.indexOf('#');
    String socket = hash < 0 ? rest : rest.substring(0, hash);
    String namespace = hash < 0 ? CRI_NAMESPACE : rest.substring(hash + 1);
    if (socket.isEmpty() || !Path.of(socket).isAbsolute()) {
      throw new IllegalArgumentException("containerd target needs an absolute socket path (containerd:<socket>"
          + "[#<namespace>]), got \"" + spec + "\"");
    }
    if (namespace.length() > 76 || !NAMESPACE.matcher(namespace).matches()) {
      throw new IllegalArgumentException("containerd namespace \"" + namespace + "\" is not a valid name (letters,"
          + " digits, '.', '_', '-' between them), in \"" + spec + "\"");
    }
    if (ctr == null || ctr.isBlank()) {
      throw new IllegalArgumentException("a containerd target needs the ctr binary (--ctr)");
    }
    return Optional.of(new ContainerdImages(Path.of(socket), namespace, ctr));
  }

  /** Streams the OCI layout in {@code layoutDir} as an archive into containerd; its images keep their ref names. */
  void importLayout(Path layoutDir) {
    requireSocket();
    ImageTools.pipe(Code.IO, List.of("tar", "-C", layoutDir.toString(), "-cf", "-", "oci-layout", "index.json",
        "blobs"), importCommand());
  }

  /**
   * {@code ctr images import -}, with {@code --local} where this ctr has it (2.x): ctr then reads the archive
   * and writes its blobs through containerd's content API itself, where 2.x's default streams it through the
   * transfer API, measured here 3.5 times slower for a 256 MiB layer (6.8 s against 1.9 s, unpack included).
   * ctr 1.x always imports locally and has no such flag.
   */
  List<String> importCommand() {
    return LOCAL_IMPORT.computeIfAbsent(ctr, ContainerdImages::hasLocalImport)
        ? ctr("images", "import", "--local", "-") : ctr("images", "import", "-");
  }

  private static boolean hasLocalImport(String ctr) {
    try {
      return LOCAL_FLAG.matcher(ImageTools.run(Code.IO, List.of(ctr, "images", "import", "--help"))).find();
    } catch (ImageStoreException e) {
      return false;
    }
  }

  /** Removes {@code imageName}; a missing image (or a missing containerd) is fine. Never throws. */
  void remove(String imageName) {
    if (!Files.exists(socket)) {
      return;
    }
    try {
      ImageTools.run(Code.IO, ctr("images", "rm", imageName));
    } catch (ImageStoreException e) {
      // not there, or containerd went away: the caller logs the image it gave up on
    }
  }

  /**
   * Once the runtime restored a container from the checkpoint image {@code imageName}, points that name at the
   * image the checkpoint was taken from and lets containerd collect the checkpoint: its memory pages leave the
   * node's disk, and a restart of the container (the pod still names this image, pulled never) starts afresh
   * from its own image, as any restart does, rather than going back to the migration's moment. The name is
   * moved with one {@code tag --force}, so it never stops resolving; the id record the CRI plugin added for the
   * checkpoint is then removed with {@code --sync}, which runs containerd's garbage collection before it
   * returns. An image that is no checkpoint any more (retired before) is left as it is.
   *
   * @throws ImageStoreException NOT_FOUND without such an image, BASE_MISSING when the image the checkpoint
   *     was taken from is not in this containerd (the checkpoint is kept: a restart would have nothing else)
   */
  CheckpointImages.Retirement retire(String imageName) {
    requireSocket();
    Map<String, String> digests = imageDigests();
    String digest = digests.get(imageName);
    if (digest == null) {
      throw new ImageStoreException(Code.NOT_FOUND, "no image " + imageName + " in " + this);
    }
    JsonObject annotations = manifestAnnotations(digest);
    if (!annotations.containsKey(CheckpointImages.CRIU_NAME)) {
      return new CheckpointImages.Retirement(imageName, Optional.empty(), List.of());
    }
    List<String> candidates = new ArrayList<>();
    for (String key : List.of(CheckpointImages.CRIU_ROOTFS_IMAGE_ID, CheckpointImages.CRIU_ROOTFS_IMAGE_NAME)) {
      if (annotations.getValue(key) instanceof String base && !base.isBlank()) {
        candidates.add(base);
      }
    }
    String base = candidates.stream().filter(digests::containsKey).findFirst().orElseThrow(() ->
        new ImageStoreException(Code.BASE_MISSING, "checkpoint image " + imageName + " kept: the image it was"
            + " taken from (" + (candidates.isEmpty() ? "not named in its annotations" : String.join(", ",
            candidates)) + ") is not in " + this));
    ImageTools.run(Code.IO, ctr("images", "tag", "--force", base, imageName));
    List<String> idRecords = idRecords(digests, digest);
    if (!idRecords.isEmpty()) {
      removeCollected(idRecords);
    }
    return new CheckpointImages.Retirement(imageName, Optional.of(base), idRecords);
  }

  /**
   * No container will start from the checkpoint image {@code imageName}: its name goes, with the CRI plugin's id
   * record when it still names a checkpoint (not when retired: then that record is its base image's), and
   * containerd collects what nothing else refers to before this returns. Returns the names removed; none when
   * there was no such image.
   */
  List<String> discard(String imageName) {
    requireSocket();
    Map<String, String> digests = imageDigests();
    String digest = digests.get(imageName);
    if (digest == null) {
      return List.of();
    }
    List<String> names = new ArrayList<>(List.of(imageName));
    if (manifestAnnotations(digest).containsKey(CheckpointImages.CRIU_NAME)) {
      names.addAll(idRecords(digests, digest));
    }
    removeCollected(names);
    return names;
  }

  /** {@code ctr images rm --sync}: containerd's garbage collection has run when it returns. */
  private void removeCollected(List<String> names) {
    List<String> remove = new ArrayList<>(List.of("images", "rm", "--sync"));
    remove.addAll(names);
    ImageTools.run(Code.IO, ctr(remove.toArray(String[]::new)));
  }

  /** The names the CRI plugin gave the image whose manifest is {@code digest}: its id, {@code sha256:…}. */
  private static List<String> idRecords(Map<String, String> digests, String digest) {
    return digests.entrySet().stream()
        .filter(entry -> entry.getValue().equals(digest) && entry.getKey().startsWith("sha256:"))
        .map(Map.Entry::getKey).sorted().toList();
  }

  /** Every image name of the namespace with the digest of its manifest (or index), from {@code ctr images ls}. */
  private Map<String, String> imageDigests() {
    Map<String, String> digests = new LinkedHashMap<>();
    ImageTools.output(Code.IO, ctr("images", "ls")).lines().skip(1).forEach(line -> {
      String[] columns = line.trim().split("\\s+");
      if (columns.length >= 3 && columns[2].startsWith("sha256:")) {
        digests.put(columns[0], columns[2]);
      }
    });
    return digests;
  }

  private JsonObject manifestAnnotations(String digest) {
    String manifest = ImageTools.output(Code.IO, ctr("content", "get", digest));
    try {
      JsonObject annotations = new JsonObject(manifest).getJsonObject("annotations");
      return annotations == null ? new JsonObject() : annotations;
    } catch (RuntimeException e) {
      throw new ImageStoreException(Code.IO, "the manifest " + digest + " in " + this + " is not a JSON object: "
          + e.getMessage(), e);
    }
  }

  boolean exists(String imageName) {
    requireSocket();
    return ImageTools.run(Code.IO, ctr("images", "ls", "-q", "name==" + imageName)).lines()
        .anyMatch(imageName::equals);
  }

  void requireSocket() {
    if (!Files.exists(socket)) {
      throw new ImageStoreException(Code.RUNTIME_UNAVAILABLE, "containerd socket " + socket
          + " does not exist: is containerd running on this node, and is its socket mounted into the agent?");
    }
  }

  List<String> ctr(String... args) {
    List<String> command = new ArrayList<>(List.of(ctr, "--address", socket.toString(), "--namespace", namespace));
    command.addAll(List.of(args));
    return command;
  }

  @Override
  public String toString() {
    return PREFIX + socket + (CRI_NAMESPACE.equals(namespace) ? "" : "#" + namespace);
  }
}
