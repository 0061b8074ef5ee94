package io.ums.agent.image;

import io.ums.agent.image.ImageStoreException.Code;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The agent's images, as an OCI image layout ({@code oci-layout}, {@code index.json}, {@code blobs/sha256}):
 * any OCI tool reads it ({@code skopeo inspect oci:<root>:<name>}). Layers are uncompressed tars, so a layer's
 * digest is also its diff id. Names live in the index's {@code org.opencontainers.image.ref.name} annotation.
 *
 * <p>Blocking file I/O: call from worker threads ({@link ImageService} does). Index updates are serialized by
 * a lock and written atomically (temp file + rename).
 */
public final class OciImageStore {
  public static final String REF_NAME = "org.opencontainers.image.ref.name";
  static final String MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
  static final String CONFIG_TYPE = "application/vnd.oci.image.config.v1+json";
  static final String INDEX_TYPE = "application/vnd.oci.image.index.v1+json";
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

  private final Path root;
  private final Path scratch;
  private final Object indexLock = new Object();

  private OciImageStore(Path root, Path scratch) {
    this.root = root;
    this.scratch = scratch;
  }

  /** Opens (creating when needed) the layout at {@code root}; temp files go to {@code scratch}. */
  public static OciImageStore open(Path root, Path scratch) {
    try {
      Files.createDirectories(root.resolve("blobs").resolve(Digest.ALGORITHM));
      Files.createDirectories(scratch);
      Path layout = root.resolve("oci-layout");
      if (!Files.exists(layout)) {
        StoreFiles.writeAtomically(layout, new JsonObject().put("imageLayoutVersion", "1.0.0").encode(), scratch);
      }
      if (!Files.exists(root.resolve("index.json"))) {
        StoreFiles.writeAtomically(root.resolve("index.json"), emptyIndex().encode(), scratch);
      }
      return new OciImageStore(root, scratch);
    } catch (IOException e) {
      throw new ImageStoreException(Code.IO, "cannot open image store at " + root + ": " + e.getMessage(), e);
    }
  }

  public Path root() {
    return root;
  }

  public static void validateName(String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new ImageStoreException(Code.INVALID,
          "image name must be 1-128 of [A-Za-z0-9._-], starting with a letter or digit: " + name);
    }
  }

  /**
   * Imports a root filesystem tarball as a new layer on top of {@code baseName}'s layers (or alone when
   * null) and names the result {@code name}.
   */
  public Image importRootfs(String name, Path tarball, String baseName) {
    validateName(name);
    if (find(name).isPresent()) {
      throw new ImageStoreException(Code.ALREADY_EXISTS, "image " + name + " already exists");
    }
    List<ImageLayer> layers = new ArrayList<>();
    if (baseName != null) {
      layers.addAll(find(baseName).orElseThrow(() ->
          new ImageStoreException(Code.INVALID, "base image " + baseName + " is not in the store")).layers());
    }
    if (!Files.isRegularFile(tarball)) {
      throw new ImageStoreException(Code.INVALID, "rootfs tarball " + tarball + " is not a readable file");
    }
    Path temp = newScratchFile();
    try {
      Digest digest;
      try (InputStream in = Files.newInputStream(tarball)) {
        digest = StoreFiles.copyHashing(in, temp);
      }
      StoreFiles.checkTarball(temp, tarball);
      long size = Files.size(temp);
      moveIntoBlobs(temp, digest);
      layers.add(new ImageLayer(digest, size));
      return writeImage(name, layers, Map.of());
    } catch (IOException e) {
      throw new ImageStoreException(Code.IO, "import of " + tarball + " failed: " + e.getMessage(), e);
    } finally {
      StoreFiles.deleteQuietly(temp);
    }
  }

  /**
   * Registers an image whose manifest and config arrived from another node; every layer blob the manifest
   * names must already be in the store. Idempotent when the name already points at the same manifest.
   */
  public Image register(String name, byte[] manifestBytes, byte[] configBytes) {
    validateName(name);
    JsonObject manifest = new JsonObject(new String(manifestBytes, StandardCharsets.UTF_8));
    Digest manifestDigest = Digest.of(StoreFiles.sha256(manifestBytes));
    Optional<Image> existing = find(name);
    if (existing.isPresent()) {
      if (existing.get().manifest().equals(manifestDigest)) {
        return existing.get();
      }
      throw new ImageStoreException(Code.ALREADY_EXISTS,
          "image " + name + " exists here with different content (" + existing.get().manifest() + ")");
    }
    Digest configDigest = Digest.of(StoreFiles.sha256(configBytes));
    if (!configDigest.equals(Digest.parse(manifest.getJsonObject("config").getString("digest")))) {
      throw new ImageStoreException(Code.DIGEST_MISMATCH, "image config does not match its manifest's digest");
    }
    List<ImageLayer> layers = parseLayers(manifest);
    for (ImageLayer layer : layers) {
      if (!hasBlob(layer.digest())) {
        throw new ImageStoreException(Code.NOT_FOUND, "layer " + layer.digest() + " of " + name + " is missing");
      }
    }
    putBlob(configBytes);
    putBlob(manifestBytes);
    addToIndex(name, manifestDigest, manifestBytes.length);
    return new Image(name, manifestDigest, configDigest, layers);
  }

  /**
   * Names {@code name} an image of one layer, {@code layer} itself (an uncompressed tar, moved into the blobs,
   * not copied), whose manifest carries {@code annotations}: how a checkpoint archive becomes a checkpoint
   * image. The file is gone afterwards, whatever the outcome.
   */
  public Image adoptLayerImage(String name, Path layer, Map<String, String> annotations) {
    validateName(name);
    try {
      Digest digest;
      try (InputStream in = Files.newInputStream(layer)) {
        digest = StoreFiles.copyHashing(in, null);
      }
      long size = Files.size(layer);
      moveIntoBlobs(layer, digest);
      return writeImage(name, List.of(new ImageLayer(digest, size)), annotations);
    } catch (IOException e) {
      throw new ImageStoreException(Code.IO, "cannot adopt " + layer + " as a layer: " + e.getMessage(), e);
    } finally {
      StoreFiles.deleteQuietly(layer);
    }
  }

  public List<Image> list() {
    List<Image> images = new ArrayList<>();
    for (Object entry : readIndex().getJsonArray("manifests", new JsonArray())) {
      JsonObject descriptor = (JsonObject) entry;
      String name = descriptor.getJsonObject("annotations", new JsonObject()).getString(REF_NAME);
      if (name != null) {
        images.add(load(name, Digest.parse(descriptor.getString("digest"))));
      }
    }
    return images;
  }

  public Optional<Image> find(String name) {
    return list().stream().filter(image -> image.name().equals(name)).findFirst();
  }

  public Image get(String name) {
    return find(name).orElseThrow(() -> new ImageStoreException(Code.NOT_FOUND, "no image named " + name));
  }

  /** Removes the name and every blob no remaining image references; returns the digests of removed layers. */
  public Set<Digest> delete(String name) {
    synchronized (indexLock) {
      Image deleted = get(name);
      JsonObject index = readIndex();
      JsonArray kept = new JsonArray();
      for (Object entry : index.getJsonArray("manifests")) {
        JsonObject descriptor = (JsonObject) entry;
        if (!name.equals(descriptor.getJsonObject("annotations", new JsonObject()).getString(REF_NAME))) {
          kept.add(descriptor);
        }
      }
      writeIndex(index.put("manifests", kept));
      return collectGarbage(deleted);
    }
  }

  /**
   * Deletes those of {@code digests} that no image references (layers a failed migration received).
   * Returns the ones deleted.
   */
  public Set<Digest> removeUnreferenced(java.util.Collection<Digest> digests) {
    synchronized (indexLock) {
      Set<Digest> referenced = new HashSet<>();
      for (Image image : list()) {
        image.layers().forEach(layer -> referenced.add(layer.digest()));
      }
      Set<Digest> removed = new HashSet<>();
      for (Digest digest : digests) {
        try {
          if (!referenced.contains(digest) && Files.deleteIfExists(blobPath(digest))) {
            removed.add(digest);
          }
        } catch (IOException e) {
          throw new ImageStoreException(Code.IO, "cannot delete blob " + digest + ": " + e.getMessage(), e);
        }
      }
      return removed;
    }
  }

  public boolean hasBlob(Digest digest) {
    return Files.isRegularFile(digest.blobPath(root));
  }

  public Path blobPath(Digest digest) {
    return digest.blobPath(root);
  }

  public byte[] readBlob(Digest digest) {
    try {
      return Files.readAllBytes(blobPath(digest));
    } catch (IOException e) {
      throw new ImageStoreException(Code.NOT_FOUND, "blob " + digest + " unreadable: " + e.getMessage(), e);
    }
  }

  /** A fresh path in the store's scratch directory (same file system as the blobs, so moves are atomic). */
  public Path newScratchFile() {
    return scratch.resolve("blob-" + UUID.randomUUID() + ".partial");
  }

  /**
   * Moves a received file into the blobs after checking that its bytes hash to {@code expected}. A mismatch
   * deletes the file and throws {@link Code#DIGEST_MISMATCH}.
   */
  public void adoptBlob(Path file, Digest expected) {
    try {
      Digest actual;
      try (InputStream in = Files.newInputStream(file)) {
        actual = StoreFiles.copyHashing(in, null);
      }
      if (!actual.equals(expected)) {
        StoreFiles.deleteQuietly(file);
        throw new ImageStoreException(Code.DIGEST_MISMATCH,
            "layer announced as " + expected + " arrived with digest " + actual);
      }
      moveIntoBlobs(file, expected);
    } catch (IOException e) {
      StoreFiles.deleteQuietly(file);
      throw new ImageStoreException(Code.IO, "cannot store blob " + expected + ": " + e.getMessage(), e);
    }
  }

  // --- internals ---

  private Image writeImage(String name, List<ImageLayer> layers, Map<String, String> annotations) {
    JsonArray diffIds = new JsonArray();
    JsonArray layerDescriptors = new JsonArray();
    for (ImageLayer layer : layers) {
      diffIds.add(layer.digest().toString());
      layerDescriptors.add(descriptor(ImageLayer.MEDIA_TYPE, layer.digest(), layer.size()));
    }
    JsonObject config = imageConfig(diffIds);
    byte[] configBytes = config.encode().getBytes(StandardCharsets.UTF_8);
    Digest configDigest = putBlob(configBytes);
    JsonObject manifest = new JsonObject()
        .put("schemaVersion", 2)
        .put("mediaType", MANIFEST_TYPE)
        .put("config", descriptor(CONFIG_TYPE, configDigest, configBytes.length))
        .put("layers", layerDescriptors);
    if (!annotations.isEmpty()) {
      manifest.put("annotations", new JsonObject(new java.util.TreeMap<String, Object>(annotations)));
    }
    byte[] manifestBytes = manifest.encode().getBytes(StandardCharsets.UTF_8);
    Digest manifestDigest = putBlob(manifestBytes);
    addToIndex(name, manifestDigest, manifestBytes.length);
    return new Image(name, manifestDigest, configDigest, layers);
  }

  private void addToIndex(String name, Digest manifest, long size) {
    synchronized (indexLock) {
      JsonObject index = readIndex();
      for (Object entry : index.getJsonArray("manifests")) {
        if (name.equals(((JsonObject) entry).getJsonObject("annotations", new JsonObject()).getString(REF_NAME))) {
          throw new ImageStoreException(Code.ALREADY_EXISTS, "image " + name + " already exists");
        }
      }
      index.getJsonArray("manifests").add(descriptor(MANIFEST_TYPE, manifest, size)
          .put("annotations", new JsonObject().put(REF_NAME, name)));
      writeIndex(index);
    }
  }

  private Image load(String name, Digest manifestDigest) {
    JsonObject manifest = new JsonObject(new String(readBlob(manifestDigest), StandardCharsets.UTF_8));
    Digest config = Digest.parse(manifest.getJsonObject("config").getString("digest"));
    return new Image(name, manifestDigest, config, parseLayers(manifest));
  }

  private static List<ImageLayer> parseLayers(JsonObject manifest) {
    List<ImageLayer> layers = new ArrayList<>();
    for (Object layer : manifest.getJsonArray("layers", new JsonArray())) {
      layers.add(ImageLayer.fromJson((JsonObject) layer));
    }
    return layers;
  }

  /**
   * Deletes those of the deleted image's blobs that no remaining image references (only those: a blob that
   * an import or a migration is adding right now is not referenced yet either). Returns the removed layers.
   */
  private Set<Digest> collectGarbage(Image deleted) {
    Set<Digest> referenced = new HashSet<>();
    for (Image image : list()) {
      referenced.add(image.manifest());
      referenced.add(image.config());
      image.layers().forEach(layer -> referenced.add(layer.digest()));
    }
    Set<Digest> removedLayers = new HashSet<>();
    List<Digest> candidates = new ArrayList<>(List.of(deleted.manifest(), deleted.config()));
    deleted.layers().forEach(layer -> candidates.add(layer.digest()));
    try {
      for (Digest digest : candidates) {
        if (!referenced.contains(digest) && Files.deleteIfExists(blobPath(digest))
            && !digest.equals(deleted.manifest()) && !digest.equals(deleted.config())) {
          removedLayers.add(digest);
        }
      }
    } catch (IOException e) {
      throw new ImageStoreException(Code.IO, "garbage collection of " + root + " failed: " + e.getMessage(), e);
    }
    return removedLayers;
  }

  private Digest putBlob(byte[] bytes) {
    Digest digest = Digest.of(StoreFiles.sha256(bytes));
    if (!hasBlob(digest)) {
      Path temp = newScratchFile();
      try {
        Files.write(temp, bytes);
        moveIntoBlobs(temp, digest);
      } catch (IOException e) {
        StoreFiles.deleteQuietly(temp);
        throw new ImageStoreException(Code.IO, "cannot write blob " + digest + ": " + e.getMessage(), e);
      }
    }
    return digest;
  }

  private void moveIntoBlobs(Path temp, Digest digest) throws IOException {
    Files.move(temp, digest.blobPath(root), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private JsonObject readIndex() {
    try {
      return new JsonObject(Files.readString(root.resolve("index.json")));
    } catch (IOException e) {
      throw new ImageStoreException(Code.IO, "cannot read " + root.resolve("index.json") + ": " + e.getMessage(), e);
    }
  }

  private void writeIndex(JsonObject index) {
    try {
      StoreFiles.writeAtomically(root.resolve("index.json"), index.encode(), scratch);
    } catch (IOException e) {
      throw new ImageStoreException(Code.IO, "cannot write index.json: " + e.getMessage(), e);
    }
  }

  private static JsonObject emptyIndex() {
    return new JsonObject().put("schemaVersion", 2).put("mediaType", INDEX_TYPE).put("manifests", new JsonArray());
  }

  private static JsonObject descriptor(String mediaType, Digest digest, long size) {
    return new JsonObject().put("mediaType", mediaType).put("digest", digest.toString()).put("size", size);
  }

  /** An OCI image config for amd64 Linux over the layers {@code diffIds} (uncompressed layer digests), no command. */
  static JsonObject imageConfig(JsonArray diffIds) {
    return new JsonObject()
        .put("created", Instant.now().toString())
        .put("architecture", "amd64")
        .put("os", "linux")
        .put("config", new JsonObject().put("Env",
            new JsonArray().add("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")))
        .put("rootfs", new JsonObject().put("type", "layers").put("diff_ids", diffIds));
  }
}
