package io.ums.bench.images;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.host.HostCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fetching parts of scripts/setup.sh and scripts/build-images.sh (scripts/fetch-common.sh), run by real
 * bash against a real apt configuration: a fetch that fails is retried with a message saying so (a fresh
 * machine's image bootstrap failed once and was not retried, issue 15 item 10), and the Debian mirror comes
 * from apt's sources, never from a host name written in the repository.
 */
class FetchScriptsTest {
  private static final List<String> REGISTRY_HOSTS = List.of("deb.debian.org", "debian.org/", "archive.ubuntu.com",
      "repo.maven.apache.org", "proxy.golang.org", "registry-1.docker.io");

  @TempDir
  Path aptRoot;

  @Test
  void noScriptOrDockerfileNamesAPackageRegistry() throws IOException {
    Path root = repositoryRoot();
    try (Stream<Path> files = Stream.concat(Files.walk(root.resolve("scripts")), Files.walk(root.resolve("deploy")))) {
      for (Path file : files.filter(Files::isRegularFile).toList()) {
        String text = Files.readString(file);
        for (String host : REGISTRY_HOSTS) {
          assertThat(text).as("%s names %s", root.relativize(file), host).doesNotContain(host);
        }
      }
    }
  }

  @Test
  void theMirrorIsReadFromAptsSources() throws IOException {
    writeSources("Types: deb\n# http://elsewhere.example/debian\nURIs: http://mirror.example/debian/\n"
        + "Suites: bookworm\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n");

    HostCommand.Result main = bash("debian_mirror main");
    HostCommand.Result security = bash("debian_mirror security");

    assertThat(main.exitCode()).as(main.output()).isZero();
    assertThat(main.output()).isEqualTo("http://mirror.example/debian");
    assertThat(security.output()).isEqualTo("http://mirror.example/debian-security");
  }

  @Test
  void noConfiguredMirrorFailsNamingWhatToConfigure() throws IOException {
    writeSources("# Types: deb\n# URIs: http://commented.example/debian\n");

    HostCommand.Result result = bash("debian_mirror main");

    assertThat(result.exitCode()).isNotZero();
    assertThat(result.output()).contains("ERROR: no Debian main mirror configured", "UMS_DEBIAN_MIRROR")
        .doesNotContain("http");
  }

  @Test
  void aFetchThatFailsTwiceIsRetriedAndSaysSo() {
    // sleep is stubbed: the test checks the retries, not the backoff
    HostCommand.Result result = bash("sleep() { :; }; tries=0; flaky() { tries=$((tries + 1)); [ $tries -ge 3 ]; }; "
        + "retry 'fetching the index' flaky && echo \"done after $tries\"");

    assertThat(result.exitCode()).as(result.output()).isZero();
    assertThat(result.output()).contains("fetching the index failed (try 1 of 3, exit 1); retrying in 10 s",
        "fetching the index failed (try 2 of 3, exit 1); retrying in 20 s", "done after 3");
  }

  @Test
  void aFetchThatAlwaysFailsGivesUpAfterThreeTriesWithItsExitCode() {
    HostCommand.Result result = bash("sleep() { :; }; retry 'downloading criu' sh -c 'exit 7'; echo \"rc=$?\"");

    assertThat(result.output()).contains("downloading criu failed 3 times (last exit 7)", "rc=7");
  }

  private void writeSources(String deb822) throws IOException {
    Files.createDirectories(aptRoot.resolve("sources.list.d"));
    Files.createDirectories(aptRoot.resolve("apt.conf.d"));
    Files.writeString(aptRoot.resolve("sources.list.d/debian.sources"), deb822);
    Files.writeString(aptRoot.resolve("apt.conf"), "Dir::Etc \"" + aptRoot + "/\";\n");
  }

  private HostCommand.Result bash(String script) {
    String prelude = "export APT_CONFIG='" + aptRoot.resolve("apt.conf") + "'; unset UMS_DEBIAN_MIRROR "
        + "UMS_DEBIAN_SECURITY_MIRROR; say() { printf '[test] %s\\n' \"$*\"; }; "
        + "fail() { printf '[test] ERROR: %s\\n' \"$*\" >&2; exit 1; }; . '"
        + repositoryRoot().resolve("scripts/fetch-common.sh") + "'; ";
    HostCommand.Result result = HostCommand.run("bash", "-c", prelude + script);
    return new HostCommand.Result(result.exitCode(), result.output().trim());
  }

  private static Path repositoryRoot() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.exists(dir.resolve("scripts/build-images.sh"))) {
      dir = dir.getParent();
    }
    if (dir == null) {
      throw new IllegalStateException("scripts/build-images.sh not found above " + Path.of("").toAbsolutePath());
    }
    return dir;
  }
}
