package io.ums.agent.image;

import io.ums.agent.image.ImageStoreException.Code;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * A checkpoint image built while its archive arrives, straight into containerd: {@code ctr images import -} is
 * started when the archive's first bytes come, and reads an OCI archive whose first entry is the layer (the
 * kubelet's archive as it is, uncompressed) written chunk by chunk as the chunks arrive, hashed on the way; the
 * image config, manifest (with the checkpoint annotations, from the {@code config.dump} seen on the way) and
 * {@code index.json} follow once the layer's digest is known. Nothing is written to, or read back from, the
 * agent's disk, and containerd stores the layer as it arrives: what is left after the last byte is containerd's
 * unpack. The layer's entry is not named after its digest (not known before the end): containerd's importer
 * (archive.ImportIndex) names every blob by the digest of its contents and finds them through index.json, in
 * any order. An archive whose length is not known at its first byte (the source sends it while the kubelet's
 * runtime still writes it) becomes several layers, cut at its entries ({@link ArchiveLayers}), each with its
 * length known before its first byte. Blocking: one worker thread, for the whole transfer.
 */
public final class StreamedCheckpointImport {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(StreamedCheckpointImport.class);
  private static final String LAYER_ENTRY = "blobs/sha256/checkpoint-layer";
  private static final int COPY_BYTES = 256 * 1024;
  private static final long UNKNOWN_SIZE = -1;

  private final ContainerdImages containerd;
  private final long archiveSize;
  private final Process ctr;
  private final Path output;
  private final TarArchiveOutputStream tar;
  private final MessageDigest sha256;
  private final TarEntryScanner scanner = new TarEntryScanner(CheckpointArchive.CONFIG_DUMP);
  private final byte[] copy = new byte[COPY_BYTES];
  private final ArchiveLayers layers;
  private final List<Blob> blobs = new java.util.ArrayList<>();
  private long received;
  private long hashingNanos;
  private long writingNanos;
  private boolean closed;

  private StreamedCheckpointImport(ContainerdImages containerd, long archiveSize, Process ctr, Path output) {
    this.containerd = containerd;
    this.archiveSize = archiveSize;
    this.ctr = ctr;
    this.output = output;
    this.tar = new TarArchiveOutputStream(new BufferedOutputStream(ctr.getOutputStream(), COPY_BYTES));
    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    try {
      this.sha256 = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    this.layers = archiveSize == UNKNOWN_SIZE ? new ArchiveLayers(scanner, new LayerEntries()) : null;
  }

  /** Starts {@code ctr images import} for an archive of {@code archiveSize} bytes: one layer, the archive. */
  static StreamedCheckpointImport start(ContainerdImages containerd, long archiveSize) {
    if (archiveSize <= 0) {
      throw new ImageStoreException(Code.INVALID, "a checkpoint archive of " + archiveSize + " bytes");
    }
    return launch(containerd, archiveSize);
  }

  /**
   * Starts {@code ctr images import} for an archive whose length is known only at its end (still being written
   * where it comes from): it becomes several layers, cut at its entries ({@link ArchiveLayers}).
   */
  static StreamedCheckpointImport startGrowing(ContainerdImages containerd) {
    return launch(containerd, UNKNOWN_SIZE);
  }

  private static StreamedCheckpointImport launch(ContainerdImages containerd, long archiveSize) {
    containerd.requireSocket();
    Path output = null;
    List<String> command = containerd.importCommand();
    try {
      output = Files.createTempFile("ums-image-tool-", ".out");
      Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile())
          .start();
      StreamedCheckpointImport started = new StreamedCheckpointImport(containerd, archiveSize, process, output);
      if (archiveSize != UNKNOWN_SIZE) {
        TarArchiveEntry layer = new TarArchiveEntry(LAYER_ENTRY);
        layer.setSize(archiveSize);
        started.tar.putArchiveEntry(layer);
      }
      return started;
    } catch (IOException e) {
      if (output != null) {
        output.toFile().delete();
      }
      throw new ImageStoreException(Code.IO, ImageTools.describe(command) + ": " + e.getMessage(), e);
    }
  }

  /** The next bytes of the archive (the buffer's position is left as it was). */
  public void write(ByteBuffer chunk) {
    int length = chunk.remaining();
    if (layers != null) {
      layers.accept(chunk);
      received += length;
      return;
    }
    if (received + length > archiveSize) {
      throw new ImageStoreException(Code.INVALID, "the checkpoint archive is longer than the " + archiveSize
          + " bytes announced");
    }
    long started = System.nanoTime();
    scanner.accept(chunk);
    sha256.update(chunk.duplicate());
    hashingNanos += System.nanoTime() - started;
    writeToCtr(chunk);
    received += length;
  }

  private void writeToCtr(ByteBuffer chunk) {
    long started = System.nanoTime();
    try {
      if (chunk.hasArray()) {
        tar.write(chunk.array(), chunk.arrayOffset() + chunk.position(), chunk.remaining());
      } else {
        ByteBuffer in = chunk.duplicate();
        while (in.hasRemaining()) {
          int n = Math.min(copy.length, in.remaining());
          in.get(copy, 0, n);
          tar.write(copy, 0, n);
        }
      }
    } catch (IOException e) {
      throw ctrFailed(e);
    }
    writingNanos += System.nanoTime() - started;
  }

  /** The layers of a growing archive, as {@link ArchiveLayers} cuts them: each an entry of the OCI archive. */
  private final class LayerEntries implements ArchiveLayers.Consumer {
    private long length;

    @Override
    public void startLayer(long layerLength) {
      length = layerLength;
      sha256.reset();
      TarArchiveEntry entry = new TarArchiveEntry(LAYER_ENTRY + "-" + blobs.size());
      entry.setSize(layerLength);
      try {
        tar.putArchiveEntry(entry);
      } catch (IOException e) {
        throw ctrFailed(e);
      }
    }

    @Override
    public void bytes(ByteBuffer bytes) {
      long started = System.nanoTime();
      sha256.update(bytes.duplicate());
      hashingNanos += System.nanoTime() - started;
      writeToCtr(bytes);
    }

    @Override
    public void endLayer() {
      try {
        tar.closeArchiveEntry();
      } catch (IOException e) {
        throw ctrFailed(e);
      }
      blobs.add(new Blob(Digest.of(sha256.digest()), length));
    }
  }

  private record Blob(Digest digest, long size) {}

  /** Where the import's worker spent the transfer so far, for the log. */
  public String profile() {
    return "scanning and hashing " + hashingNanos / 1_000_000 + " ms, writing into ctr " + writingNanos / 1_000_000
        + " ms";
  }

  /**
   * The archive is complete: writes the image's metadata, lets {@code ctr} import and unpack it as
   * {@code imageName} and waits for it. {@code container} is the checkpointed container's name in its pod.
   * On failure the image is removed again.
   */
  public void finish(String imageName, String container) {
    try {
      if ((archiveSize != UNKNOWN_SIZE && received != archiveSize) || !scanner.ended()) {
        throw new ImageStoreException(Code.INVALID, "the checkpoint archive ended after " + received
            + (archiveSize == UNKNOWN_SIZE ? "" : " of " + archiveSize) + " bytes"
            + (scanner.ended() ? "" : ", without its end-of-archive blocks"));
      }
      byte[] configDump = scanner.wantedContents().orElseThrow(() -> new ImageStoreException(Code.INVALID,
          "not a container checkpoint archive: no " + CheckpointArchive.CONFIG_DUMP));
      Map<String, String> annotations = CheckpointImages.annotations(CheckpointArchive.fromConfigDump(configDump),
          container);
      if (layers != null) {
        layers.finish();
      } else {
        tar.closeArchiveEntry();
        blobs.add(new Blob(Digest.of(sha256.digest()), archiveSize));
      }
      writeMetadata(imageName, annotations);
      closed = true;
      long unpackStarted = System.nanoTime();
      ImageTools.awaitExit(Code.IO, command(), ctr);
      LOG.info("{}: {} bytes streamed into ctr (hashing {} ms, waiting for ctr to take them {} ms), then ctr"
          + " imported and unpacked it in {} ms", imageName, received, hashingNanos / 1_000_000,
          writingNanos / 1_000_000, (System.nanoTime() - unpackStarted) / 1_000_000);
      if (ctr.exitValue() != 0) {
        throw new ImageStoreException(Code.IO, ImageTools.describe(command()) + " failed (exit " + ctr.exitValue()
            + "): " + ImageTools.lastLine(Files.readString(output)));
      }
    } catch (IOException e) {
      abort();
      containerd.remove(imageName);
      throw ctrFailed(e);
    } catch (RuntimeException e) {
      abort();
      containerd.remove(imageName);
      throw e;
    } finally {
      output.toFile().delete();
    }
  }

  /** Gives up: {@code ctr} is stopped before it saw an index, so no image was created. Idempotent. */
  public void abort() {
    ctr.destroyForcibly();
    output.toFile().delete();
  }

  private void writeMetadata(String imageName, Map<String, String> annotations) throws IOException {
    JsonArray diffIds = new JsonArray();
    JsonArray layerDescriptors = new JsonArray();
    for (Blob blob : blobs) {
      diffIds.add(blob.digest().toString()); // uncompressed: the layer's digest is its diff id
      layerDescriptors.add(descriptor(ImageLayer.MEDIA_TYPE, blob.digest(), blob.size()));
    }
    JsonObject config = OciImageStore.imageConfig(diffIds);
    byte[] configBytes = bytes(config);
    JsonObject manifest = new JsonObject()
        .put("schemaVersion", 2)
        .put("mediaType", OciImageStore.MANIFEST_TYPE)
        .put("config", descriptor(OciImageStore.CONFIG_TYPE, sha256(configBytes), configBytes.length))
        .put("layers", layerDescriptors)
        .put("annotations", new JsonObject(new TreeMap<String, Object>(annotations)));
    byte[] manifestBytes = bytes(manifest);
    Digest manifestDigest = sha256(manifestBytes);
    JsonObject index = new JsonObject().put("schemaVersion", 2).put("manifests", new JsonArray().add(
        descriptor(OciImageStore.MANIFEST_TYPE, manifestDigest, manifestBytes.length)
            .put("annotations", new JsonObject().put(OciImageStore.REF_NAME, imageName))));
    entry("oci-layout", bytes(new JsonObject().put("imageLayoutVersion", "1.0.0")));
    entry("blobs/sha256/" + sha256(configBytes).hex(), configBytes);
    entry("blobs/sha256/" + manifestDigest.hex(), manifestBytes);
    entry("index.json", bytes(index));
    tar.finish();
    tar.close();
  }

  private void entry(String name, byte[] contents) throws IOException {
    TarArchiveEntry entry = new TarArchiveEntry(name);
    entry.setSize(contents.length);
    tar.putArchiveEntry(entry);
    tar.write(contents);
    tar.closeArchiveEntry();
  }

  private static JsonObject descriptor(String mediaType, Digest digest, long size) {
    return new JsonObject().put("mediaType", mediaType).put("digest", digest.toString()).put("size", size);
  }

  private static byte[] bytes(JsonObject json) {
    return json.encode().getBytes(StandardCharsets.UTF_8);
  }

  private static Digest sha256(byte[] bytes) {
    try {
      return Digest.of(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Writing to {@code ctr} failed: it exited (its own last line says why) or was stopped. */
  private ImageStoreException ctrFailed(IOException e) {
    String why = e.getMessage();
    try {
      if (!closed && ctr.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
        why = "exit " + ctr.exitValue() + ": " + ImageTools.lastLine(Files.readString(output));
      }
    } catch (IOException | InterruptedException ignored) {
      // the write's own message it is
    }
    return new ImageStoreException(Code.IO, ImageTools.describe(command()) + " failed (" + why + ")", e);
  }

  private List<String> command() {
    return containerd.importCommand();
  }
}
