package io.ums.agent.criu;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Open files a local-mode migration refuses before it freezes anything, because CRIU cannot restore them
 * faithfully next to the frozen source:
 * <ul>
 *   <li>a pseudo-terminal ({@code /dev/ptmx}, {@code /dev/pts/N}): CRIU restores a pty only under the
 *       same index, which the frozen source (or anyone on the destination) still holds, so the restore
 *       fails after the whole transfer;</li>
 *   <li>a named pipe (FIFO): its buffer belongs to the inode, which the frozen source and the restored copy
 *       share on one host or on shared storage: the bytes in it are dumped, then written back into the
 *       same pipe (doubled) or read by the wrong process;</li>
 *   <li>a file lock it holds ({@code fcntl}/POSIX, {@code flock}, OFD; e.g. SQLite in WAL mode, for as
 *       long as a connection is open): CRIU refuses to dump it without {@code --file-locks}, and with it the
 *       restore would wait for the lock the frozen source still holds on the shared file. A lock taken
 *       between this check and the freeze still fails the dump (CRIU's message), and the source resumes.</li>
 * </ul>
 * Blocking (reads /proc).
 */
public final class UnmovableFiles {
  private static final int S_IFMT = 0170000;
  private static final int S_IFIFO = 0010000;

  private UnmovableFiles() {}

  /** Why the tree cannot move (the first such file, with its process and descriptor), or empty. */
  public static Optional<String> find(List<Long> tree) {
    for (long pid : tree) {
      Path fds = Path.of("/proc", Long.toString(pid), "fd");
      try (DirectoryStream<Path> entries = Files.newDirectoryStream(fds)) {
        for (Path fd : entries) {
          Optional<String> why = describe(pid, fd);
          if (why.isPresent()) {
            return why;
          }
        }
      } catch (IOException | SecurityException e) {
        // the process ended meanwhile: nothing of it to move
      }
    }
    return Optional.empty();
  }

  private static Optional<String> describe(long pid, Path fd) {
    String target;
    try {
      target = Files.readSymbolicLink(fd).toString();
    } catch (IOException e) {
      return Optional.empty();
    }
    String where = " (pid " + pid + ", fd " + fd.getFileName() + ")";
    if (target.equals("/dev/ptmx") || target.startsWith("/dev/pts/")) {
      return Optional.of("it holds the pseudo-terminal " + target + where + ": CRIU restores a terminal only"
          + " under the same index, which the source still holds; run it without a terminal (stdin from"
          + " /dev/null, output to the agent's log)");
    }
    Optional<String> lock = heldLock(pid, fd);
    if (lock.isPresent()) {
      return Optional.of("it holds a file lock (" + lock.get() + ") on " + target + where + ": a lock cannot"
          + " move while the frozen source holds it on the same file (CRIU would dump it only to wait for it at"
          + " the restore); stop the program or close the file (SQLite in WAL mode keeps its -shm file locked"
          + " while a connection is open) before moving it");
    }
    if (target.startsWith("/") && isFifo(fd)) {
      return Optional.of("it holds the named pipe (FIFO) " + target + where + ": a FIFO's buffer belongs to"
          + " the file, which the source and the restored copy would share, so its bytes would be doubled or"
          + " lost; use an anonymous pipe or a unix socket");
    }
    return Optional.empty();
  }

  /** The kind and mode of a lock this descriptor holds ("POSIX WRITE"), from its fdinfo's "lock:" lines. */
  private static Optional<String> heldLock(long pid, Path fd) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "fdinfo",
          fd.getFileName().toString()))) {
        if (line.startsWith("lock:")) {
          // lock:	1: POSIX  ADVISORY  WRITE 14565 fe:00:10518841 120 120
          String[] parts = line.substring("lock:".length()).trim().split("\\s+");
          return Optional.of(parts.length > 3 ? parts[1] + " " + parts[3] : line);
        }
      }
    } catch (IOException | SecurityException e) {
      // closed or ended meanwhile: nothing of it to move
    }
    return Optional.empty();
  }

  private static boolean isFifo(Path fd) {
    try {
      return ((Integer) Files.getAttribute(fd, "unix:mode") & S_IFMT) == S_IFIFO;
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return false;
    }
  }
}
