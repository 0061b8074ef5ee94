package io.ums.bench.local;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Temporary directories of one run, removed by the {@link Cleanup} whatever happens. */
public final class Scratch {
  private Scratch() {}

  /** A fresh directory under {@code parent} (e.g. /dev/shm for tmpfs, /var/tmp for disk). */
  public static Path create(Path parent, String prefix, Cleanup cleanup) {
    try {
      Path dir = Files.createTempDirectory(parent, prefix);
      cleanup.push("remove " + dir, () -> {
        try {
          deleteTree(dir);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    }
  }
}
