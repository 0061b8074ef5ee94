package io.ums.agent.files;

import io.ums.host.HostCommand;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Recursive deletion that never follows symbolic links (layer trees are full of them) and never deletes
 * on another file system mounted below the tree: a process killed half way leaves mounts behind (a
 * {@code criu restore} killed with its agent left its cgroup yard, a cgroup2 mount of the whole host
 * hierarchy, in the session directory; a killed container start leaves its rootfs), and a walk through
 * them would delete the host's files. Blocking.
 */
public final class FileTrees {
  private static final Path MOUNT_INFO = Path.of("/proc/self/mountinfo");

  private FileTrees() {}

  /**
   * Deletes {@code path} and everything under it; nothing happens when it does not exist. What is mounted
   * strictly below it is detached first ({@code umount -l}); a mount that cannot be detached fails the
   * deletion before anything on it is touched.
   */
  public static void delete(Path path) throws IOException {
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    detachMountsBelow(path);
    Object device = device(path);
    List<Path> all = new ArrayList<>();
    Files.walkFileTree(path, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attributes) throws IOException {
        if (!device.equals(device(dir))) {
          throw new IOException("not deleting " + path + ": " + dir + " is another file system, still mounted");
        }
        all.add(dir);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) {
        all.add(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFileFailed(Path file, IOException failure) throws IOException {
        if (failure instanceof NoSuchFileException) {
          return FileVisitResult.CONTINUE; // went meanwhile
        }
        throw failure;
      }
    });
    for (int i = all.size() - 1; i >= 0; i--) {
      Files.deleteIfExists(all.get(i));
    }
  }

  /** Detaches every mount point strictly below {@code path}, deepest first. */
  static void detachMountsBelow(Path path) throws IOException {
    List<String> below = mountPointsBelow(path.toRealPath(LinkOption.NOFOLLOW_LINKS));
    for (String mountPoint : below) {
      HostCommand.Result detached = HostCommand.run("umount", "-l", mountPoint);
      if (!detached.ok()) {
        throw new IOException("not deleting " + path + ": cannot detach " + mountPoint + " mounted below it: "
            + detached.output().strip());
      }
    }
  }

  /** Mount points (as /proc/self/mountinfo lists them) strictly below {@code realPath}, deepest first. */
  static List<String> mountPointsBelow(Path realPath) throws IOException {
    String prefix = realPath.toString().endsWith("/") ? realPath.toString() : realPath + "/";
    List<String> below = new ArrayList<>();
    for (String line : Files.readAllLines(MOUNT_INFO)) {
      String[] fields = line.split(" ");
      if (fields.length > 4) {
        String mountPoint = unescape(fields[4]);
        if (mountPoint.startsWith(prefix) && !below.contains(mountPoint)) {
          below.add(mountPoint);
        }
      }
    }
    below.sort(Comparator.comparingInt(String::length).reversed());
    return below;
  }

  /** mountinfo writes space, tab, newline and backslash as octal escapes ({@code \040}). */
  static String unescape(String field) {
    StringBuilder out = new StringBuilder(field.length());
    for (int i = 0; i < field.length(); i++) {
      char c = field.charAt(i);
      if (c == '\\' && isOctal(field, i + 1)) {
        out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  private static boolean isOctal(String field, int from) {
    if (from + 3 > field.length()) {
      return false;
    }
    for (int i = from; i < from + 3; i++) {
      if (field.charAt(i) < '0' || field.charAt(i) > '7') {
        return false;
      }
    }
    return true;
  }

  private static Object device(Path path) throws IOException {
    return Files.getAttribute(path, "unix:dev", LinkOption.NOFOLLOW_LINKS);
  }
}
