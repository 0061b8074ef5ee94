package io.ums.agent.kubelet;

import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The kubelet's checkpoint archives as this agent sees them: the kubelet reports a path on the node
 * ({@code /var/lib/kubelet/checkpoints/checkpoint-<pod>_<ns>-<container>-<time>.tar}); the agent finds the
 * file by its name in its own mount of that directory, and never follows a name or link out of it (the
 * archive holds a container's memory, and the agent deletes it afterwards). Blocking: worker threads.
 */
public final class KubeletArchives {
  private final Path dir;
  private final Path claims;

  /**
   * @param dir the agent's mount of the kubelet's checkpoint directory
   * @param claims where the agent notes the archives it is sending (its work dir), so that an agent that died
   *     mid-migration has them deleted by the next one ({@link #sweep}); other archives there are not its own
   */
  public KubeletArchives(Path dir, Path claims) {
    this.dir = dir.toAbsolutePath().normalize();
    this.claims = claims;
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

  /**
   * The archives of a container's checkpoints in the directory now: the kubelet names them
   * {@code checkpoint-<pod>_<namespace>-<container>-<RFC 3339 time>.tar}.
   */
  public Set<Path> archivesOf(String namespace, String pod, String container) throws IOException {
    Pattern name = Pattern.compile(Pattern.quote("checkpoint-" + pod
        + "_" + namespace + "-" + container + "-") + "\\d{4}-\\d{2}-\\d{2}T[^/]*\\.tar");
    if (!Files.isDirectory(dir)) {
      return new HashSet<>(); // not mounted: the kubelet's answer then fails to be found, with the reason (locate)
    }
    try (var files = Files.list(dir)) {
      return files.filter(file -> name.matcher(file.getFileName().toString()).matches()
          && Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)).collect(Collectors.toCollection(HashSet::new));
    }
  }

  /** Notes that migration {@code id} sends (and must delete) {@code archive}. */
  public void claim(String id, Path archive) throws IOException {
    Files.createDirectories(claims);
    Files.writeString(claims.resolve(id), archive.getFileName().toString());
  }

  /**
   * Deletes the archive and the claim on it; a missing one is fine. Never throws: false when the archive is
   * still there (the caller logs it).
   */
  public boolean delete(String id, Path archive) {
    try {
      Files.deleteIfExists(archive);
      Files.deleteIfExists(claims.resolve(id));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Deletes the archives an earlier agent claimed and did not get to delete; returns how many. */
  public int sweep() throws IOException {
    if (!Files.isDirectory(claims)) {
      return 0;
    }
    int deleted = 0;
    try (var claimed = Files.list(claims)) {
      for (Path claim : claimed.toList()) {
        Path archive = dir.resolve(Path.of(Files.readString(claim).strip()).getFileName()).normalize();
        if (archive.getParent().equals(dir) && Files.deleteIfExists(archive)) {
          deleted++;
        }
        Files.deleteIfExists(claim);
      }
    }
    return deleted;
  }

  private static MigrationFailure.Exception refused(String reported, String why) {
    return new MigrationFailure.Exception(Code.KUBELET_FAILED, "kubelet archive \"" + reported + "\" refused: "
        + why);
  }
}
