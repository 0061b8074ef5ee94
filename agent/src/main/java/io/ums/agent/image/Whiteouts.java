package io.ums.agent.image;

import io.ums.agent.files.FileTrees;
import io.ums.host.HostCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The two spellings of "deleted here": OCI layer tars use {@code .wh.<name>} files and {@code .wh..wh..opq}
 * (opaque directory); overlayfs uses a 0/0 character device and the {@code trusted.overlay.opaque} xattr.
 * Blocking (walks trees, runs {@code mknod}/{@code setfattr}/{@code getfattr}).
 */
public final class Whiteouts {
  public static final String PREFIX = ".wh.";
  public static final String OPAQUE = ".wh..wh..opq";
  public static final String OPAQUE_XATTR = "trusted.overlay.opaque";
  private static final int S_IFMT = 0170000;
  private static final int S_IFCHR = 0020000;

  private Whiteouts() {}

  /** Rewrites an unpacked OCI tree in place so that overlayfs understands its deletions. */
  public static void toOverlay(Path dir) throws IOException {
    List<Path> markers;
    try (Stream<Path> walk = Files.walk(dir)) {
      markers = walk.filter(p -> p.getFileName() != null && p.getFileName().toString().startsWith(PREFIX)).toList();
    }
    for (Path marker : markers) {
      String name = marker.getFileName().toString();
      Files.delete(marker);
      if (name.equals(OPAQUE)) {
        run("setfattr", "-n", OPAQUE_XATTR, "-v", "y", marker.getParent().toString());
      } else {
        Path deleted = marker.resolveSibling(name.substring(PREFIX.length()));
        FileTrees.delete(deleted);
        run("mknod", deleted.toString(), "c", "0", "0");
      }
    }
  }

  /** True for overlayfs's whiteout: a character device with device number 0/0. */
  public static boolean isOverlayWhiteout(Path path) throws IOException {
    int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    return (mode & S_IFMT) == S_IFCHR && (Long) Files.getAttribute(path, "unix:rdev", LinkOption.NOFOLLOW_LINKS) == 0L;
  }

  /** The directories under {@code dir} that overlayfs marked opaque (their lower contents are hidden). */
  public static Set<Path> opaqueDirectories(Path dir) {
    // getfattr exits non-zero when some files lack the attribute; its stdout still lists those that have it.
    HostCommand.Result result = HostCommand.run("sh", "-c",
        "getfattr -R -P --absolute-names -n " + OPAQUE_XATTR + " -- \"$0\" 2>/dev/null; true", dir.toString());
    Set<Path> opaque = new HashSet<>();
    String current = null;
    for (String line : result.output().split("\n")) {
      if (line.startsWith("# file: ")) {
        current = line.substring("# file: ".length());
      } else if (current != null && line.startsWith(OPAQUE_XATTR + "=\"y\"")) {
        opaque.add(Path.of(current));
      }
    }
    return opaque;
  }

  private static void run(String... command) throws IOException {
    HostCommand.Result result = HostCommand.run(command);
    if (!result.ok()) {
      throw new IOException(String.join(" ", command) + " failed: " + result.output());
    }
  }
}
