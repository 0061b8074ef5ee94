package io.ums.agent.kubelet;

import io.ums.agent.migration.MigrationFailure;
import io.ums.agent.migration.MigrationFailure.Code;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * The kubelet's checkpoint archives as this agent sees them: the kubelet reports a path on the node
 * ({@code /var/lib/kubelet/checkpoints/checkpoint-<pod>_<ns>-<container>-<time>.tar}); the agent finds the
 * file by its name in its own mount of that directory, and never follows a name or link out of it (the
 * archive holds a container's memory, and the agent deletes it afterwards). Blocking: worker threads.
 */
public final class KubeletArchives {
  private final Path dir;

  public KubeletArchives(Path dir) {
    this.dir = dir.toAbsolutePath().normalize();
  }

  public Path dir() {
    return dir;
  }

  /** The local file of the archive the kubelet reported, which must be a regular file inside the directory. */
  public Path locate(String reported) {
    Path name;
    try {
      name = Path.of(reported).getFileName();
    } catch (InvalidPathException e) {
      throw refused(reported, "not a path");
    }
    if (name == null || name.toString().equals("..") || name.toString().equals(".")) {
      throw refused(reported, "no file name");
    }
    Path local = dir.resolve(name).normalize();
    if (!local.getParent().equals(dir)) {
      throw refused(reported, "outside " + dir);
    }
    try {
      if (!Files.isRegularFile(local, LinkOption.NOFOLLOW_LINKS)) {
        throw refused(reported, Files.exists(local, LinkOption.NOFOLLOW_LINKS) ? "not a regular file in " + dir
            : "no such file in " + dir + " (is the kubelet's checkpoint directory mounted there?"
            + " see --kubelet-checkpoint-dir)");
      }
      if (!local.toRealPath().getParent().equals(dir.toRealPath())) {
        throw refused(reported, "resolves outside " + dir);
      }
    } catch (IOException e) {
      throw refused(reported, e.getMessage());
    }
    return local;
  }

  /** Deletes the archive; a missing one is fine. Never throws: a leftover archive is logged by the caller. */
  public boolean delete(Path archive) {
    try {
      Files.deleteIfExists(archive);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static MigrationFailure.Exception refused(String reported, String why) {
    return new MigrationFailure.Exception(Code.KUBELET_FAILED, "kubelet archive \"" + reported + "\" refused: "
        + why);
  }
}
