package io.ums.agent.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ums.host.HostCommand;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The checkpoint image built while the archive arrives, against a stand-in {@code ctr} (a shell script that
 * keeps what it was given on stdin, and its arguments): the OCI archive it receives must be what containerd's
 * importer takes (layer = the kubelet's archive byte for byte, its digest in the manifest and the config's
 * diff_ids, the checkpoint annotations from the archive's config.dump, the image's name in index.json), for any
 * way the archive is cut into chunks; a truncated, compressed or escaping archive, and a failing ctr, are errors.
 * {@code ContainerdCheckpointRestoreTest} and {@code ConsistentPodMigrationTest} import into a real containerd.
 */
class StreamedCheckpointImportTest {
  private static final String IMAGE = "localhost/ums-checkpoint/p-c:1";

  @TempDir
  Path dir;

  @ParameterizedTest(name = "chunks of {0} bytes")
  @ValueSource(ints = {1, 511, 512, 4096, 65_539})
  void theArchiveBecomesTheLayerOfAnImageNamedInItsIndexWithTheCheckpointAnnotations(int chunk) throws Exception {
    byte[] archive = paxArchive();
    StreamedCheckpointImport streamed = StreamedCheckpointImport.start(containerd(fakeCtr(0)), archive.length);
    for (int at = 0; at < archive.length; at += chunk) {
      streamed.write(ByteBuffer.wrap(archive, at, Math.min(chunk, archive.length - at)));
    }
    streamed.finish(IMAGE, "c");

    Map<String, byte[]> imported = untar(Files.readAllBytes(dir.resolve("stdin")));
    assertThat(imported.keySet().iterator().next()).as("the layer goes first, as it arrives")
        .startsWith("blobs/sha256/");
    String layerDigest = "sha256:" + sha256(archive);
    assertThat(imported.values().iterator().next()).isEqualTo(archive);
    JsonObject index = json(imported.get("index.json"));
    JsonObject descriptor = index.getJsonArray("manifests").getJsonObject(0);
    assertThat(descriptor.getJsonObject("annotations").getString("org.opencontainers.image.ref.name"))
        .isEqualTo(IMAGE);
    byte[] manifestBytes = imported.get("blobs/sha256/" + descriptor.getString("digest").substring(7));
    assertThat("sha256:" + sha256(manifestBytes)).isEqualTo(descriptor.getString("digest"));
    JsonObject manifest = json(manifestBytes);
    assertThat(manifest.getJsonArray("layers").getJsonObject(0).getString("digest")).isEqualTo(layerDigest);
    assertThat(manifest.getJsonArray("layers").getJsonObject(0).getLong("size")).isEqualTo(archive.length);
    assertThat(manifest.getJsonObject("annotations").getMap()).containsEntry(CheckpointImages.CRIU_NAME, "c")
        .containsEntry(CheckpointImages.CRIU_ROOTFS_IMAGE_NAME, "localhost/ums-busybox:check")
        .containsEntry(CheckpointImages.CRIU_RUNTIME_NAME, "runc");
    JsonObject config = json(imported.get("blobs/sha256/" + manifest.getJsonObject("config").getString("digest")
        .substring(7)));
    assertThat(config.getJsonObject("rootfs").getJsonArray("diff_ids").getString(0)).isEqualTo(layerDigest);
    assertThat(json(imported.get("oci-layout")).getString("imageLayoutVersion")).isEqualTo("1.0.0");
    assertThat(Files.readString(dir.resolve("args"))).contains("--namespace k8s.io images import --local -");
  }

  @Test
  void gnuLongNamesAreFollowedToo() throws Exception {
    Path root = Files.createDirectories(dir.resolve("content").resolve("checkpoint"));
    Files.write(root.resolve("x".repeat(120) + ".img"), new byte[3000]);
    Files.writeString(root.getParent().resolve("config.dump"), new JsonObject().put("name", "c").encode());
    Path tar = dir.resolve("gnu.tar");
    HostCommand.check("tar", "--format=gnu", "-cf", tar.toString(), "-C", root.getParent().toString(), ".");
    byte[] archive = Files.readAllBytes(tar);
    StreamedCheckpointImport streamed = StreamedCheckpointImport.start(containerd(fakeCtr(0)), archive.length);
    streamed.write(ByteBuffer.wrap(archive));
    streamed.finish(IMAGE, "c");
    assertThat(untar(Files.readAllBytes(dir.resolve("stdin")))).containsKey("index.json");
  }

  @Test
  void anArchiveThatEndsShortIsRefusedAndNoImageIsLeft() throws Exception {
    byte[] archive = paxArchive();
    StreamedCheckpointImport streamed = StreamedCheckpointImport.start(containerd(fakeCtr(0)), archive.length);
    streamed.write(ByteBuffer.wrap(archive, 0, archive.length / 2));
    assertThatThrownBy(() -> streamed.finish(IMAGE, "c"))
        .isInstanceOfSatisfying(ImageStoreException.class,
            e -> assertThat(e.code()).isEqualTo(ImageStoreException.Code.INVALID))
        .hasMessageContaining("ended after " + archive.length / 2 + " of " + archive.length + " bytes");
    assertThat(Files.readString(dir.resolve("args"))).as("the image removed again").contains("images rm " + IMAGE);
  }

  @Test
  void compressedOrEscapingArchivesAreRefusedAsTheyArrive() throws Exception {
    ByteArrayOutputStream gzipped = new ByteArrayOutputStream();
    try (GZIPOutputStream gzip = new GZIPOutputStream(gzipped)) {
      gzip.write(paxArchive());
    }
    StreamedCheckpointImport compressed = StreamedCheckpointImport.start(containerd(fakeCtr(0)), gzipped.size());
    assertThatThrownBy(() -> compressed.write(ByteBuffer.wrap(gzipped.toByteArray())))
        .hasMessageContaining("not a plain tar archive");
    compressed.abort();

    byte[] escaping = archive(Map.of("../../etc/cron.d/x", "* * * * * root true".getBytes(StandardCharsets.UTF_8)));
    StreamedCheckpointImport escape = StreamedCheckpointImport.start(containerd(fakeCtr(0)), escaping.length);
    assertThatThrownBy(() -> escape.write(ByteBuffer.wrap(escaping)))
        .isInstanceOfSatisfying(ImageStoreException.class,
            e -> assertThat(e.code()).isEqualTo(ImageStoreException.Code.INVALID))
        .hasMessageContaining("escapes the root: ../../etc/cron.d/x");
    escape.abort();
  }

  @Test
  void aCtrThatFailsIsAnIoErrorWithItsLastLine() throws Exception {
    byte[] archive = paxArchive();
    StreamedCheckpointImport streamed = StreamedCheckpointImport.start(containerd(fakeCtr(1)), archive.length);
    assertThatThrownBy(() -> {
      for (int at = 0; at < archive.length; at += 65_536) {
        streamed.write(ByteBuffer.wrap(archive, at, Math.min(65_536, archive.length - at)));
      }
      streamed.finish(IMAGE, "c");
    }).isInstanceOfSatisfying(ImageStoreException.class,
            e -> assertThat(e.code()).isEqualTo(ImageStoreException.Code.IO))
        .hasMessageContaining("images import --local - failed").hasMessageContaining("connection refused");
  }

  /**
   * An archive sent while it is still written (its length unknown at its first byte): layers cut at its entries,
   * each a tar of whole entries whose length was known when it started, that together hold the archive's entries
   * in order; large entries stream through as layers of their own, small ones wait in memory (a bounded amount).
   */
  @ParameterizedTest(name = "chunks of {0} bytes")
  @ValueSource(ints = {1, 511, 4096, 65_539, 1 << 20})
  void anArchiveOfUnknownLengthBecomesLayersThatTogetherHoldItsEntriesInOrder(int chunk) throws Exception {
    Random random = new Random(11);
    Map<String, byte[]> entries = new LinkedHashMap<>();
    entries.put("bind.mounts", "[]".getBytes(StandardCharsets.UTF_8));
    entries.put("checkpoint/" + "p".repeat(150) + "/pages-1.img", randomBytes(random, 3 << 20));
    for (int i = 0; i < 40; i++) { // 6 MiB of small entries: more than may wait in memory
      entries.put("checkpoint/core-" + i + ".img", randomBytes(random, 150 * 1024));
    }
    entries.put("config.dump", new JsonObject().put("name", "c").put("rootfsImageName", "localhost/ums-busybox:check")
        .put("runtime", "runc").encode().getBytes(StandardCharsets.UTF_8));
    entries.put("rootfs-diff.tar", randomBytes(random, (int) ArchiveLayers.LARGE_ENTRY));
    entries.put("spec.dump", "{}".getBytes(StandardCharsets.UTF_8));
    byte[] archive = archive(entries);

    StreamedCheckpointImport streamed = StreamedCheckpointImport.startGrowing(containerd(fakeCtr(0)));
    for (int at = 0; at < archive.length; at += chunk) {
      streamed.write(ByteBuffer.wrap(archive, at, Math.min(chunk, archive.length - at)));
    }
    streamed.finish(IMAGE, "c");

    Map<String, byte[]> blobs = new LinkedHashMap<>();
    for (byte[] contents : untar(Files.readAllBytes(dir.resolve("stdin"))).values()) {
      blobs.put("sha256:" + sha256(contents), contents);
    }
    JsonObject index = json(blobs.values().stream().reduce((first, second) -> second).orElseThrow());
    JsonObject manifest = json(blobs.get(index.getJsonArray("manifests").getJsonObject(0).getString("digest")));
    JsonObject config = json(blobs.get(manifest.getJsonObject("config").getString("digest")));
    assertThat(manifest.getJsonObject("annotations").getMap()).containsEntry(CheckpointImages.CRIU_NAME, "c");
    Map<String, byte[]> unpacked = new LinkedHashMap<>();
    var layers = manifest.getJsonArray("layers");
    assertThat(layers.size()).as("pages, the small entries flushed, rootfs-diff.tar, the rest").isEqualTo(4);
    for (int i = 0; i < layers.size(); i++) {
      String digest = layers.getJsonObject(i).getString("digest");
      assertThat(config.getJsonObject("rootfs").getJsonArray("diff_ids").getString(i)).isEqualTo(digest);
      byte[] layer = blobs.get(digest);
      assertThat(layer).as("layer %s", i).isNotNull().hasSize(layers.getJsonObject(i).getInteger("size"));
      unpacked.putAll(untar(layer));
    }
    assertThat(unpacked.keySet()).containsExactlyElementsOf(entries.keySet());
    entries.forEach((name, contents) -> assertThat(unpacked.get(name)).as(name).isEqualTo(contents));
  }

  @Test
  void anArchiveOfUnknownLengthThatEndsShortIsRefused() throws Exception {
    byte[] archive = paxArchive();
    StreamedCheckpointImport streamed = StreamedCheckpointImport.startGrowing(containerd(fakeCtr(0)));
    streamed.write(ByteBuffer.wrap(archive, 0, archive.length / 2));
    assertThatThrownBy(() -> streamed.finish(IMAGE, "c"))
        .isInstanceOfSatisfying(ImageStoreException.class,
            e -> assertThat(e.code()).isEqualTo(ImageStoreException.Code.INVALID))
        .hasMessageContaining("without its end-of-archive blocks");
  }

  private static byte[] randomBytes(Random random, int length) {
    byte[] bytes = new byte[length];
    random.nextBytes(bytes);
    return bytes;
  }

  /** A checkpoint archive as the kubelet's runtime writes it (Go's archive/tar: PAX headers for long names). */
  private static byte[] paxArchive() throws Exception {
    Map<String, byte[]> entries = new LinkedHashMap<>();
    byte[] pages = new byte[1 << 20];
    new Random(7).nextBytes(pages);
    entries.put("checkpoint/" + "p".repeat(150) + "/pages-1.img", pages);
    entries.put("config.dump", new JsonObject().put("name", "c").put("rootfsImageName", "localhost/ums-busybox:check")
        .put("runtime", "runc").encode().getBytes(StandardCharsets.UTF_8));
    entries.put("spec.dump", "{}".getBytes(StandardCharsets.UTF_8));
    return archive(entries);
  }

  private static byte[] archive(Map<String, byte[]> entries) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (Map.Entry<String, byte[]> entry : entries.entrySet()) {
        TarArchiveEntry header = new TarArchiveEntry(entry.getKey());
        header.setSize(entry.getValue().length);
        tar.putArchiveEntry(header);
        tar.write(entry.getValue());
        tar.closeArchiveEntry();
      }
    }
    return bytes.toByteArray();
  }

  /** A ctr that keeps its stdin and arguments, or (exit 1) fails at once as when containerd does not answer. */
  private Path fakeCtr(int exit) throws Exception {
    Path ctr = dir.resolve("ctr");
    String body = exit == 0 ? "echo \"$*\" >> " + dir.resolve("args") + "\ncat > " + dir.resolve("stdin") + "\n"
        : "echo 'ctr: failed to dial: connection refused' >&2\nexit 1\n";
    Files.writeString(ctr, "#!/bin/sh\ncase \"$*\" in *--help*) echo '   --local   Run import locally'; exit 0;;"
        + " esac\n" + body);
    Files.setPosixFilePermissions(ctr, PosixFilePermissions.fromString("rwxr-xr-x"));
    return ctr;
  }

  private ContainerdImages containerd(Path ctr) throws Exception {
    Path socket = dir.resolve("containerd.sock");
    if (!Files.exists(socket)) {
      Files.createFile(socket);
    }
    return ContainerdImages.parse("containerd:" + socket, ctr.toString()).orElseThrow();
  }

  private static Map<String, byte[]> untar(byte[] tar) throws Exception {
    Map<String, byte[]> entries = new LinkedHashMap<>();
    try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar))) {
      for (TarArchiveEntry entry = in.getNextEntry(); entry != null; entry = in.getNextEntry()) {
        entries.put(entry.getName(), in.readAllBytes());
      }
    }
    return entries;
  }

  private static JsonObject json(byte[] bytes) {
    return new JsonObject(new String(bytes, StandardCharsets.UTF_8));
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }
}
