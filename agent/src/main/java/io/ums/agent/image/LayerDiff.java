package io.ums.agent.image;

import io.ums.host.HostCommand;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * A container's writable layer as an OCI layer diff: the overlay upper dir's new and changed files, with
 * deletions written as {@code .wh.} whiteouts and opaque directories as {@code .wh..wh..opq}; and the
 * reverse, applying such a diff to a fresh upper dir. The upper dir must come from a mount with
 * {@code redirect_dir=off,metacopy=off,index=off} (so it holds whole files, no redirects). Hard links are
 * written as separate copies. Blocking.
 */
public final class LayerDiff {
  private static final int S_IFMT = 0170000;
  private static final int S_IFCHR = 0020000;
  private static final int S_IFBLK = 0060000;
  private static final int S_IFIFO = 0010000;

  private LayerDiff() {}

  /** Writes the diff of {@code upperDir} as a tar to {@code out}; returns the number of entries. */
  public static int write(Path upperDir, OutputStream out) throws IOException {
    Set<Path> opaque = Whiteouts.opaqueDirectories(upperDir);
    List<Path> paths;
    try (Stream<Path> walk = Files.walk(upperDir)) {
      paths = walk.filter(p -> !p.equals(upperDir)).sorted().toList();
    }
    int entries = 0;
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      for (Path path : paths) {
        String name = upperDir.relativize(path).toString();
        if (Whiteouts.isOverlayWhiteout(path)) {
          Path marker = Path.of(name).resolveSibling(Whiteouts.PREFIX + path.getFileName());
          tar.putArchiveEntry(new TarArchiveEntry(marker.toString()));
          tar.closeArchiveEntry();
          entries++;
          continue;
        }
        tar.putArchiveEntry(entryFor(path, name));
        if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
          try (InputStream in = Files.newInputStream(path)) {
            in.transferTo(tar);
          }
        }
        tar.closeArchiveEntry();
        entries++;
        if (opaque.contains(path)) {
          tar.putArchiveEntry(new TarArchiveEntry(name + "/" + Whiteouts.OPAQUE));
          tar.closeArchiveEntry();
          entries++;
        }
      }
      tar.finish();
    }
    return entries;
  }

  /** Unpacks a diff into an (empty) upper dir, turning its whiteouts into overlay whiteouts. */
  public static void apply(Path diffTar, Path upperDir) throws IOException {
    Files.createDirectories(upperDir);
    HostCommand.Result untar = HostCommand.run("tar", "-x", "-p", "--numeric-owner", "-f", diffTar.toString(),
        "-C", upperDir.toString());
    if (!untar.ok()) {
      throw new IOException("cannot unpack layer diff " + diffTar + ": " + untar.output());
    }
    Whiteouts.toOverlay(upperDir);
  }

  private static TarArchiveEntry entryFor(Path path, String name) throws IOException {
    int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    TarArchiveEntry entry;
    if (Files.isSymbolicLink(path)) {
      entry = new TarArchiveEntry(name, TarConstants.LF_SYMLINK);
      entry.setLinkName(Files.readSymbolicLink(path).toString());
    } else if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
      entry = new TarArchiveEntry(name + "/");
    } else if ((mode & S_IFMT) == S_IFCHR || (mode & S_IFMT) == S_IFBLK || (mode & S_IFMT) == S_IFIFO) {
      byte type = (mode & S_IFMT) == S_IFCHR ? TarConstants.LF_CHR
          : (mode & S_IFMT) == S_IFBLK ? TarConstants.LF_BLK : TarConstants.LF_FIFO;
      entry = new TarArchiveEntry(name, type);
      long rdev = (Long) Files.getAttribute(path, "unix:rdev", LinkOption.NOFOLLOW_LINKS);
      entry.setDevMajor((int) ((rdev >> 8) & 0xfff));
      entry.setDevMinor((int) ((rdev & 0xff) | ((rdev >> 12) & 0xfff00)));
    } else {
      entry = new TarArchiveEntry(name);
      entry.setSize(Files.size(path));
    }
    entry.setMode(mode & 07777);
    entry.setUserId(((Number) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS)).longValue());
    entry.setGroupId(((Number) Files.getAttribute(path, "unix:gid", LinkOption.NOFOLLOW_LINKS)).longValue());
    FileTime modified = Files.getLastModifiedTime(path, LinkOption.NOFOLLOW_LINKS);
    entry.setModTime(modified);
    return entry;
  }
}
