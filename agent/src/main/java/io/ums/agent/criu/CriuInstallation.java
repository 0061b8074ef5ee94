package io.ums.agent.criu;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The CRIU this agent drives: where it is, which version, and what {@code criu check} says about the kernel.
 * Probed once at start ({@link #probe}, blocking: call it on a worker). Migrations need CRIU >= 4.2
 * (older ones cannot dump TCP sockets on kernels >= 6.16, see criu-install.md); {@link #problem()} says in
 * one human sentence why migrations are refused, empty when CRIU is usable.
 */
public record CriuInstallation(Optional<Path> binary, Optional<Version> version, boolean checkPassed,
                               boolean lazyPages, boolean dirtyTracking, Optional<String> problem) {
  public static final Version MINIMUM = new Version(4, 2, 0);
  private static final Pattern VERSION = Pattern.compile("Version:\\s*(\\d+)\\.(\\d+)(?:\\.(\\d+))?");
  private static final long COMMAND_TIMEOUT_SECONDS = 30;

  public record Version(int major, int minor, int patch) implements Comparable<Version> {
    @Override
    public int compareTo(Version other) {
      int byMajor = Integer.compare(major, other.major);
      if (byMajor != 0) {
        return byMajor;
      }
      int byMinor = Integer.compare(minor, other.minor);
      return byMinor != 0 ? byMinor : Integer.compare(patch, other.patch);
    }

    @Override
    public String toString() {
      return major + "." + minor + "." + patch;
    }
  }

  public boolean usable() {
    return problem.isEmpty();
  }

  /** Finds CRIU at {@code configured} (when given) or on PATH, and asks it about itself and the kernel. */
  public static CriuInstallation probe(Optional<Path> configured) {
    Optional<Path> binary = configured.isPresent() ? configured.filter(Files::isExecutable) : findOnPath("criu");
    if (binary.isEmpty()) {
      String where = configured.map(path -> "at " + path).orElse("on PATH (" + System.getenv("PATH") + ")");
      return unusable(binary, Optional.empty(), "CRIU not found " + where + "; install CRIU >= " + MINIMUM
          + " (./ums setup)");
    }
    String criu = binary.get().toString();
    Output versionOutput = run(criu, "--version");
    Optional<Version> version = parseVersion(versionOutput.text());
    if (version.isEmpty()) {
      return unusable(binary, version, criu + " --version did not report a version: " + versionOutput.text());
    }
    if (version.get().compareTo(MINIMUM) < 0) {
      return unusable(binary, version, "CRIU " + version.get() + " at " + criu + " is too old: UMS needs >= "
          + MINIMUM + " (older ones cannot dump TCP sockets on this kernel)");
    }
    Output check = run(criu, "check");
    boolean lazyPages = run(criu, "check", "--feature", "uffd-noncoop").exitCode() == 0;
    boolean dirtyTracking = run(criu, "check", "--feature", "mem_dirty_track").exitCode() == 0;
    Optional<String> problem = check.exitCode() == 0 ? Optional.empty()
        : Optional.of("criu check failed (exit " + check.exitCode() + "): " + lastLine(check.text()));
    return new CriuInstallation(binary, version, check.exitCode() == 0, lazyPages, dirtyTracking, problem);
  }

  static Optional<Version> parseVersion(String output) {
    Matcher matcher = VERSION.matcher(output);
    if (!matcher.find()) {
      return Optional.empty();
    }
    int patch = matcher.group(3) == null ? 0 : Integer.parseInt(matcher.group(3));
    return Optional.of(new Version(Integer.parseInt(matcher.group(1)), Integer.parseInt(matcher.group(2)), patch));
  }

  /** The "criu" object of GET /v1/info. */
  public JsonObject toJson() {
    JsonObject json = new JsonObject()
        .put("version", version.map(Version::toString).orElse(null))
        .put("ok", usable())
        .put("lazyPages", lazyPages)
        .put("dirtyTracking", dirtyTracking)
        .put("path", binary.map(Path::toString).orElse(null));
    problem.ifPresent(text -> json.put("problem", text));
    return json;
  }

  private static CriuInstallation unusable(Optional<Path> binary, Optional<Version> version, String problem) {
    return new CriuInstallation(binary, version, false, false, false, Optional.of(problem));
  }

  private static Optional<Path> findOnPath(String name) {
    String path = System.getenv("PATH");
    List<String> dirs = new ArrayList<>(List.of(path == null ? new String[0] : path.split(":")));
    // Root's usual sbin directories, in case the agent was started with a user's PATH.
    dirs.addAll(List.of("/usr/local/sbin", "/usr/sbin", "/sbin"));
    return dirs.stream().filter(dir -> !dir.isEmpty()).map(dir -> Path.of(dir, name)).filter(Files::isExecutable)
        .findFirst();
  }

  private record Output(int exitCode, String text) {}

  private static Output run(String... command) {
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
      String text = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!process.waitFor(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        return new Output(-1, "timed out: " + String.join(" ", command));
      }
      return new Output(process.exitValue(), text.strip());
    } catch (IOException e) {
      return new Output(-1, e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Output(-1, "interrupted");
    }
  }

  private static String lastLine(String text) {
    String[] lines = text.split("\n");
    return lines.length == 0 ? "" : lines[lines.length - 1];
  }
}
