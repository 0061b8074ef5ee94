package io.ums.agent.kubelet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ums.agent.error.MigrationFailure;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KubeletArchivesTest {
  @TempDir
  Path dir;

  @Test
  void findsTheKubeletsArchiveByItsFileNameInTheAgentsMount() throws Exception {
    Path mount = Files.createDirectories(dir.resolve("checkpoints"));
    Path archive = Files.writeString(mount.resolve("checkpoint-web_default-app-2026-11-26T17:00:00Z.tar"), "x");
    KubeletArchives archives = new KubeletArchives(mount, dir.resolve("claims"));

    assertThat(archives.locate("/var/lib/kubelet/checkpoints/checkpoint-web_default-app-2026-11-26T17:00:00Z.tar"))
        .isEqualTo(archive);
    archives.claim("m-1", archive);
    assertThat(archives.delete("m-1", archive)).isTrue();
    assertThat(archive).doesNotExist();
    assertThat(dir.resolve("claims/m-1")).doesNotExist();
    assertThat(archives.delete("m-1", archive)).as("idempotent").isTrue();
  }

  /** How the source finds the archive being written before the kubelet names it: by the kubelet's naming. */
  @Test
  void listsTheArchivesOfOneContainerOnlyAndNothingWhereTheDirectoryIsNotMounted() throws Exception {
    Path mount = Files.createDirectories(dir.resolve("checkpoints"));
    Path first = Files.writeString(mount.resolve("checkpoint-web_default-app-2026-11-26T17:00:00Z.tar"), "x");
    Path second = Files.writeString(mount.resolve("checkpoint-web_default-app-2026-11-26T17:00:05Z.tar"), "x");
    Files.writeString(mount.resolve("checkpoint-web_default-app-sidecar-2026-11-26T17:00:00Z.tar"), "x");
    Files.writeString(mount.resolve("checkpoint-web_other-app-2026-11-26T17:00:00Z.tar"), "x");
    Files.writeString(mount.resolve("checkpoint-web_default-app-2026-11-26T17:00:00Z.tar.tmp"), "x");
    KubeletArchives archives = new KubeletArchives(mount, dir.resolve("claims"));

    assertThat(archives.archivesOf("default", "web", "app")).containsExactlyInAnyOrder(first, second);
    assertThat(new KubeletArchives(dir.resolve("not-mounted"), dir.resolve("claims"))
        .archivesOf("default", "web", "app")).isEmpty();
  }

  @Test
  void theNextAgentDeletesTheArchivesADeadOneWasSendingAndNoOthers() throws Exception {
    Path mount = Files.createDirectories(dir.resolve("checkpoints"));
    Path ours = Files.writeString(mount.resolve("checkpoint-a.tar"), "x");
    Path someoneElses = Files.writeString(mount.resolve("checkpoint-b.tar"), "y");
    new KubeletArchives(mount, dir.resolve("claims")).claim("m-2", ours);

    assertThat(new KubeletArchives(mount, dir.resolve("claims")).sweep()).isEqualTo(1);
    assertThat(ours).doesNotExist();
    assertThat(someoneElses).exists();
    assertThat(dir.resolve("claims")).isEmptyDirectory();
  }

  @Test
  void neverLeavesTheCheckpointDirectory() throws Exception {
    Path mount = Files.createDirectories(dir.resolve("checkpoints"));
    Path secret = Files.writeString(dir.resolve("secret.tar"), "not an archive of the kubelet");
    Files.createSymbolicLink(mount.resolve("link.tar"), secret);
    Files.createDirectories(mount.resolve("sub.tar"));
    KubeletArchives archives = new KubeletArchives(mount, dir.resolve("claims"));

    for (String reported : new String[] {"/var/lib/kubelet/checkpoints/..", "/", "..", "/x/link.tar",
        "/var/lib/kubelet/checkpoints/sub.tar", "/var/lib/kubelet/checkpoints/missing.tar", "bad\0name"}) {
      assertThatThrownBy(() -> archives.locate(reported)).as(reported)
          .isInstanceOfSatisfying(MigrationFailure.Exception.class, e ->
              assertThat(e.failure().code()).isEqualTo(MigrationFailure.Code.KUBELET_FAILED));
    }
    assertThat(secret).exists();
  }
}
