package io.ums.agent.image;

import io.ums.agent.files.FileTrees;
import io.ums.agent.image.ImageStoreException.Code;
import io.ums.host.HostCommand;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Layer blobs unpacked once, by digest, into directories that serve as overlayfs lower dirs (read-only:
 * every container's changes go to its own upper dir). OCI whiteouts are turned into overlay whiteouts on
 * unpacking. Blocking.
 */
public final class LayerCache {
  private final OciImageStore store;
  private final Path root;

  public LayerCache(OciImageStore store, Path root) {
    this.store = store;
    this.root = root;
  }

  /** The unpacked directory of each layer, top layer first (the order overlayfs's lowerdir wants). */
  public List<Path> lowerDirs(Image image) {
    List<Path> dirs = new ArrayList<>();
    for (ImageLayer layer : image.layers()) {
      dirs.add(0, unpacked(layer.digest()));
    }
    return dirs;
  }

  public Path unpacked(Digest digest) {
    Path dir = root.resolve(digest.hex());
    if (Files.isDirectory(dir)) {
      return dir;
    }
    if (!store.hasBlob(digest)) {
      throw new ImageStoreException(Code.NOT_FOUND, "layer " + digest + " is not in the store");
    }
    Path partial = root.resolve(digest.hex() + "." + UUID.randomUUID() + ".partial");
    try {
      Files.createDirectories(partial);
      HostCommand.Result untar = HostCommand.run("tar", "-x", "-p", "--numeric-owner", "-f",
          store.blobPath(digest).toString(), "-C", partial.toString());
      if (!untar.ok()) {
        throw new ImageStoreException(Code.IO, "cannot unpack layer " + digest + ": " + untar.output());
      }
      Whiteouts.toOverlay(partial);
      try {
        Files.move(partial, dir, StandardCopyOption.ATOMIC_MOVE);
      } catch (FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException raced) {
        FileTrees.delete(partial);
      }
      return dir;
    } catch (IOException e) {
      throw new ImageStoreException(Code.IO, "cannot unpack layer " + digest + ": " + e.getMessage(), e);
    } finally {
      try {
        FileTrees.delete(partial);
      } catch (IOException ignored) {
        // best effort: a leftover .partial directory is never used
      }
    }
  }

  /** Forgets an unpacked layer (after its blob was deleted and no container uses it). */
  public void evict(Digest digest) {
    try {
      FileTrees.delete(root.resolve(digest.hex()));
    } catch (IOException e) {
      throw new ImageStoreException(Code.IO, "cannot remove unpacked layer " + digest + ": " + e.getMessage(), e);
    }
  }
}
