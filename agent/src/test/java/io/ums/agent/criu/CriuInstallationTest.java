package io.ums.agent.criu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CRIU probe against the machine's real CRIU 4.2.1, and against stand-ins that are missing or too old. */
class CriuInstallationTest {
  @Test
  void findsTheInstalledCriuWithLazyPagesAndWithoutDirtyTracking() {
    CriuInstallation criu = CriuInstallation.probe(Optional.empty());
    assertThat(criu.problem()).isEmpty();
    assertThat(criu.version()).hasValueSatisfying(version -> {
      assertThat(version.major()).isEqualTo(4);
      assertThat(version.minor()).isGreaterThanOrEqualTo(2);
    });
    assertThat(criu.checkPassed()).isTrue();
    // facts of this kernel (criu-install.md): userfaultfd works, soft-dirty tracking does not
    assertThat(criu.lazyPages()).isTrue();
    assertThat(criu.dirtyTracking()).isFalse();
  }

  @Test
  void aMissingCriuIsReportedWithWhereItWasLookedFor(@TempDir Path dir) {
    CriuInstallation criu = CriuInstallation.probe(Optional.of(dir.resolve("criu")));
    assertThat(criu.usable()).isFalse();
    assertThat(criu.problem()).hasValueSatisfying(problem -> assertThat(problem)
        .contains("CRIU not found at " + dir.resolve("criu")).contains(">= 4.2"));
    assertThat(criu.toJson().getBoolean("ok")).isFalse();
  }

  // A stand-in script, since an old CRIU cannot be installed beside the real one.
  @Test
  void anOldCriuIsRefusedNamingItsVersion(@TempDir Path dir) throws Exception {
    Path fake = dir.resolve("criu");
    Files.writeString(fake, "#!/bin/sh\necho 'Version: 4.1.1'\n");
    Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwx------"));
    CriuInstallation criu = CriuInstallation.probe(Optional.of(fake));
    assertThat(criu.version()).hasValue(new CriuInstallation.Version(4, 1, 1));
    assertThat(criu.problem()).hasValueSatisfying(problem -> assertThat(problem)
        .contains("CRIU 4.1.1").contains("too old").contains(">= 4.2.0"));
  }

  @Test
  void versionsParseWithOrWithoutPatch() {
    assertThat(CriuInstallation.parseVersion("Version: 4.2.1\nGitID: v4.2.1")).hasValue(
        new CriuInstallation.Version(4, 2, 1));
    assertThat(CriuInstallation.parseVersion("Version: 3.17")).hasValue(new CriuInstallation.Version(3, 17, 0));
    assertThat(CriuInstallation.parseVersion("garbage")).isEmpty();
  }
}
