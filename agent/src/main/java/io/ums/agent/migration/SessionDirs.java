package io.ums.agent.migration;

import io.ums.agent.files.FileTrees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Removes a migration's session directory (images, logs) in every outcome. Blocking. */
final class SessionDirs {
  private static final Logger LOG = LoggerFactory.getLogger(SessionDirs.class);
  /** How many failed migrations' CRIU logs an agent keeps. */
  private static final int KEPT_FAILURES = 20;

  /**
   * In a session directory: the id of the workload a restore registered before the source heard that it runs.
   * The directory goes when the session ends, so a restarting agent that finds the file knows the copy was
   * never handed over (its restore guard killed it with the previous agent) and drops its record.
   */
  static final String UNCONFIRMED_WORKLOAD = "unconfirmed-workload";

  private SessionDirs() {}

  static void markUnconfirmed(Path dir, String workloadId) throws IOException {
    Files.writeString(dir.resolve(UNCONFIRMED_WORKLOAD), workloadId);
  }

  /** The workloads the sessions under {@code root} registered and never handed over (see above). */
  static List<String> unconfirmedWorkloads(Path root) throws IOException {
    if (!Files.isDirectory(root)) {
      return List.of();
    }
    try (Stream<Path> sessions = Files.list(root)) {
      List<String> ids = new java.util.ArrayList<>();
      for (Path marker : sessions.map(session -> session.resolve(UNCONFIRMED_WORKLOAD)).filter(Files::isRegularFile)
          .toList()) {
        ids.add(Files.readString(marker).trim());
      }
      return ids;
    }
  }

  /** Deletes what is in {@code root} but the directories in {@code kept}. */
  /**
   * Deletes what is in {@code root} but the directories in {@code kept}. One that cannot go is logged and
   * left: an agent that refused to start over a stale directory would leave its node without an agent.
   */
  static void deleteAllBut(Path root, java.util.Set<Path> kept) throws IOException {
    if (!Files.isDirectory(root)) {
      return;
    }
    try (Stream<Path> children = Files.list(root)) {
      for (Path child : children.toList()) {
        if (!kept.contains(child)) {
          try {
            delete(child);
          } catch (IOException e) {
            LOG.warn("cannot remove the stale session directory {}: {}", child, e.getMessage());
          }
        }
      }
    }
  }

  /** Deletes a session directory, detaching first what a killed CRIU left mounted in it (see FileTrees). */
  static void delete(Path dir) throws IOException {
    if (dir != null) {
      FileTrees.delete(dir);
    }
  }

  /**
   * How every session directory ends: for a failed session its logs (found in {@code logs}) are kept first
   * (see {@link #keepLogs}), then the directory goes. Returns where the logs went, if anywhere.
   */
  static Optional<Path> settle(Path dir, Path logs, boolean failed, Path keptRoot, String id) throws IOException {
    Optional<Path> kept = failed ? keepLogs(logs, keptRoot, id) : Optional.empty();
    delete(dir);
    return kept;
  }

  /**
   * Copies the CRIU logs and outputs of a failed session ({@code *.log}, {@code *.out}, {@code *.err}; not
   * the images) to {@code keptRoot/<id>} before the session directory goes, so that the cause can be read
   * after the status only says the last error lines; only the newest {@value #KEPT_FAILURES} are kept.
   * Returns where they went, empty when there was nothing to keep.
   */
  static Optional<Path> keepLogs(Path dir, Path keptRoot, String id) throws IOException {
    if (dir == null || !Files.isDirectory(dir)) {
      return Optional.empty();
    }
    List<Path> logs;
    try (Stream<Path> files = Files.list(dir)) {
      logs = files.filter(Files::isRegularFile).filter(path -> path.getFileName().toString()
          .matches(".*\\.(log|out|err)")).toList();
    }
    if (logs.isEmpty()) {
      return Optional.empty();
    }
    Path kept = Files.createDirectories(keptRoot.resolve(id));
    for (Path log : logs) {
      Files.copy(log, kept.resolve(log.getFileName()), StandardCopyOption.REPLACE_EXISTING);
    }
    try (Stream<Path> dirs = Files.list(keptRoot)) {
      List<Path> oldestFirst = dirs.filter(Files::isDirectory)
          .sorted(Comparator.comparing(SessionDirs::modified)).toList();
      for (Path old : oldestFirst.subList(0, Math.max(0, oldestFirst.size() - KEPT_FAILURES))) {
        delete(old);
      }
    }
    return Optional.of(kept);
  }

  private static long modified(Path path) {
    try {
      return Files.getLastModifiedTime(path).toMillis();
    } catch (IOException e) {
      return 0;
    }
  }
}
