package io.ums.agent.image;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The checkpoint images this node's agent imported that nobody has retired or discarded yet: one small file
 * each under the work dir, so that a restarted agent still knows them. The coordinator retires an image once its
 * pod is Ready and discards it when the migration fails; when it cannot (the agent restarted between the
 * import and the release, or the coordinator died and never came back), {@link #retireOlderThan} retires what
 * is older than any commit could take: the name then starts the container's own image and the checkpoint's
 * bytes leave the node, which is right whether a pod started from it or not. Blocking file and ctr work:
 * worker threads only.
 */
public final class CheckpointImageLedger {
  private static final Logger LOG = LoggerFactory.getLogger(CheckpointImageLedger.class);
  static final String DIR = "checkpoint-images";

  private final Path dir;
  private final CheckpointImages images;

  public CheckpointImageLedger(Path workDir, CheckpointImages images) {
    this.dir = workDir.resolve(DIR);
    this.images = images;
  }

  /** {@code image} was imported at {@code atMillis} (epoch ms). */
  public void imported(String image, long atMillis) {
    try {
      Files.createDirectories(dir);
      Path partial = dir.resolve(fileName(image) + ".partial");
      Files.writeString(partial, new JsonObject().put("image", image).put("importedAt", atMillis).encode());
      Files.move(partial, dir.resolve(fileName(image)), StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      // only the late retirement depends on it: the image itself is imported
      LOG.warn("cannot record the import of {} in {}: {}", image, dir, e.getMessage());
    }
  }

  /** {@code image} was retired or discarded: nothing is left to do for it. Idempotent. */
  public void settled(String image) {
    try {
      Files.deleteIfExists(dir.resolve(fileName(image)));
    } catch (IOException e) {
      LOG.warn("cannot drop the record of {} in {}: {}", image, dir, e.getMessage());
    }
  }

  /** The images recorded and not settled, in no particular order. */
  public List<String> pending() {
    List<String> pending = new ArrayList<>();
    forEachRecord((image, importedAt) -> pending.add(image));
    return pending;
  }

  /**
   * Retires every recorded image imported at least {@code age} before {@code nowMillis}; returns those retired.
   * An image that is gone, or a store that keeps its images as they are, settles the record; one whose base
   * image is missing, or a store that failed, is tried again next time.
   */
  public List<String> retireOlderThan(Duration age, long nowMillis) {
    List<String> retired = new ArrayList<>();
    forEachRecord((image, importedAt) -> {
      if (importedAt + age.toMillis() > nowMillis) {
        return;
      }
      try {
        images.retire(image);
        settled(image);
        retired.add(image);
        LOG.info("checkpoint image {} retired {} min after its import: no coordinator had settled it", image,
            (nowMillis - importedAt) / 60_000);
      } catch (ImageStoreException e) {
        switch (e.code()) {
          case NOT_FOUND, UNSUPPORTED, INVALID -> settled(image);
          default -> LOG.warn("checkpoint image {} not retired yet: {}", image, e.getMessage());
        }
      }
    });
    return retired;
  }

  private interface RecordVisitor {
    void visit(String image, long importedAt);
  }

  private void forEachRecord(RecordVisitor visitor) {
    if (!Files.isDirectory(dir)) {
      return;
    }
    List<Path> records;
    try (Stream<Path> files = Files.list(dir)) {
      records = files.filter(file -> !file.getFileName().toString().endsWith(".partial")).toList();
    } catch (IOException e) {
      LOG.warn("cannot list {}: {}", dir, e.getMessage());
      return;
    }
    for (Path record : records) {
      JsonObject json;
      try {
        json = new JsonObject(Files.readString(record, StandardCharsets.UTF_8));
      } catch (IOException | RuntimeException e) {
        LOG.warn("dropping the unreadable record {}: {}", record, e.getMessage());
        deleteQuietly(record);
        continue;
      }
      if (!(json.getValue("image") instanceof String image) || !(json.getValue("importedAt") instanceof Number at)) {
        LOG.warn("dropping the record {}: no image and import time in it", record);
        deleteQuietly(record);
        continue;
      }
      visitor.visit(image, at.longValue());
    }
  }

  private static void deleteQuietly(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      // tried again at the next pass
    }
  }

  /** A name safe for any file system: the SHA-256 of the image name, in hex. */
  private static String fileName(String image) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(image.getBytes(StandardCharsets.UTF_8))) + ".json";
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("no SHA-256 in this JVM", e);
    }
  }
}
