package io.ums.agent.image;

import io.ums.agent.image.ImageStoreException.Code;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarFile;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * A container checkpoint archive as the kubelet (CRI-O, containerd) or {@code podman container checkpoint
 * --export} writes it: a tar holding {@code config.dump}, {@code spec.dump}, CRIU's images under
 * {@code checkpoint/} and the writable layer as {@code rootfs-diff.tar}. What its {@code config.dump} says
 * (container name, rootfs image, OCI runtime) becomes the checkpoint image's annotations.
 * Blocking file I/O: worker threads only.
 *
 * @param name the checkpointed container's name, when {@code config.dump} has one
 * @param rootfsImageName the image the container ran from, when known
 * @param rootfsImageRef that image as the checkpointing runtime resolved it (containerd: its image id,
 *     {@code sha256:…}), when known: the name containerd restores the container's root file system from
 * @param runtime the OCI runtime that checkpointed it (runc, crun), when known
 */
public record CheckpointArchive(Optional<String> name, Optional<String> rootfsImageName,
                                Optional<String> rootfsImageRef, Optional<String> runtime) {
  static final String CONFIG_DUMP = "config.dump";
  private static final int MAX_CONFIG_DUMP_BYTES = 1 << 20;

  /**
   * Reads {@code archive}; a gzip-compressed one is decompressed in place first (image layers here are plain
   * tars). Refuses anything that is not a checkpoint archive: not a tar, no {@code config.dump}, or an entry
   * that would land outside the image's root.
   */
  public static CheckpointArchive read(Path archive) {
    try {
      decompressIfGzip(archive);
      // TarFile seeks from header to header: the memory pages in between are never read here
      try (TarFile tar = new TarFile(archive)) {
        JsonObject config = null;
        for (TarArchiveEntry entry : tar.getEntries()) {
          String path = entry.getName();
          if (path.startsWith("/") || Path.of(path).normalize().startsWith("..")) {
            throw new ImageStoreException(Code.INVALID, "checkpoint archive entry escapes the root: " + path);
          }
          if (Path.of(path).normalize().toString().equals(CONFIG_DUMP) && entry.getSize() <= MAX_CONFIG_DUMP_BYTES) {
            try (InputStream in = tar.getInputStream(entry)) {
              config = parseConfig(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            }
          }
        }
        if (config == null) {
          throw new ImageStoreException(Code.INVALID, "not a container checkpoint archive: no " + CONFIG_DUMP);
        }
        return fromConfig(config);
      }
    } catch (IOException e) {
      throw new ImageStoreException(Code.INVALID, "checkpoint archive " + archive.getFileName()
          + " is not a readable tar: " + e.getMessage(), e);
    }
  }

  /** What a {@code config.dump} (its bytes, as found in a streamed archive) says. */
  static CheckpointArchive fromConfigDump(byte[] configDump) {
    return fromConfig(parseConfig(new String(configDump, StandardCharsets.UTF_8)));
  }

  private static CheckpointArchive fromConfig(JsonObject config) {
    return new CheckpointArchive(text(config, "name"), text(config, "rootfsImageName"),
        text(config, "rootfsImageRef"), text(config, "runtime"));
  }

  private static JsonObject parseConfig(String text) {
    try {
      return new JsonObject(text);
    } catch (DecodeException e) {
      throw new ImageStoreException(Code.INVALID, CONFIG_DUMP + " of the checkpoint archive is not JSON");
    }
  }

  private static Optional<String> text(JsonObject config, String field) {
    return config.getValue(field) instanceof String value && !value.isBlank() ? Optional.of(value)
        : Optional.empty();
  }

  private static void decompressIfGzip(Path archive) throws IOException {
    byte[] magic = new byte[4];
    try (InputStream in = Files.newInputStream(archive)) {
      int read = in.readNBytes(magic, 0, 4);
      if (read == 4 && (magic[0] & 0xff) == 0x28 && (magic[1] & 0xff) == 0xb5 && (magic[2] & 0xff) == 0x2f
          && (magic[3] & 0xff) == 0xfd) {
        throw new ImageStoreException(Code.INVALID, "checkpoint archive " + archive.getFileName()
            + " is zstd-compressed; the kubelet writes plain tars (podman: --compress none or gzip)");
      }
      if (read < 2 || (magic[0] & 0xff) != 0x1f || (magic[1] & 0xff) != 0x8b) {
        return;
      }
    }
    Path plain = archive.resolveSibling(archive.getFileName() + ".tar.partial");
    try (InputStream in = new GzipCompressorInputStream(new BufferedInputStream(Files.newInputStream(archive)))) {
      Files.copy(in, plain, StandardCopyOption.REPLACE_EXISTING);
      Files.move(plain, archive, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(plain);
    }
  }
}
