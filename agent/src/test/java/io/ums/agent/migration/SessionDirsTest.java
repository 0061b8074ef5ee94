package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SessionDirsTest {
  @TempDir
  Path dir;

  @Test
  void aFailedSessionKeepsItsLogsButNotItsImages() throws Exception {
    Path session = Files.createDirectories(dir.resolve("sessions/recv-1"));
    Files.createDirectories(session.resolve("images"));
    Files.writeString(session.resolve("images/pages-1.img"), "pages");
    Files.writeString(session.resolve("restore.log"), "Error (criu/files-reg.c): File has bad size");
    Files.writeString(session.resolve("restore.err"), "");

    Path kept = SessionDirs.settle(session, session, true, dir.resolve("failed"), "s-1").orElseThrow();

    assertThat(kept).isEqualTo(dir.resolve("failed/s-1"));
    assertThat(kept.resolve("restore.log")).hasContent("Error (criu/files-reg.c): File has bad size");
    assertThat(kept.resolve("restore.err")).exists();
    assertThat(kept.resolve("images")).doesNotExist();
    assertThat(session).doesNotExist();
  }

  @Test
  void theWorkloadsOfSessionsThatNeverHandedThemOverAreFoundByTheirMarkers() throws Exception {
    Path root = dir.resolve("sessions");
    SessionDirs.markUnconfirmed(Files.createDirectories(root.resolve("recv-1")), "w-1");
    Files.createDirectories(root.resolve("recv-2/images"));
    Files.createDirectories(root.resolve("send-3"));

    assertThat(SessionDirs.unconfirmedWorkloads(root)).containsExactly("w-1");
    assertThat(SessionDirs.unconfirmedWorkloads(dir.resolve("no-such-root"))).isEmpty();
  }

  @Test
  void aSessionThatSucceededKeepsNothing() throws Exception {
    Path session = Files.createDirectories(dir.resolve("sessions/send-1/criu-work"));
    Files.writeString(session.resolve("dump.log"), "ok");

    assertThat(SessionDirs.settle(session.getParent(), session, false, dir.resolve("failed"), "s-2")).isEmpty();

    assertThat(session.getParent()).doesNotExist();
    assertThat(dir.resolve("failed")).doesNotExist();
  }

  @Test
  void onlyTheNewestFailuresAreKept() throws Exception {
    Path session = Files.createDirectories(dir.resolve("session"));
    Files.writeString(session.resolve("dump.log"), "x");
    for (int i = 0; i < 25; i++) {
      Path kept = SessionDirs.keepLogs(session, dir.resolve("failed"), "m-" + i).orElseThrow();
      Files.setLastModifiedTime(kept, java.nio.file.attribute.FileTime.fromMillis(1_000_000L * (i + 1)));
    }
    try (var kept = Files.list(dir.resolve("failed"))) {
      assertThat(kept.map(path -> path.getFileName().toString()).toList()).hasSize(20).contains("m-24")
          .doesNotContain("m-0", "m-4");
    }
  }

  @Test
  void nothingToKeepWithoutASessionDirectory() throws Exception {
    assertThat(SessionDirs.keepLogs(dir.resolve("missing"), dir.resolve("failed"), "x")).isEmpty();
    assertThat(SessionDirs.keepLogs(null, dir.resolve("failed"), "x")).isEmpty();
  }
}
