package io.ums.agent.kubelet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ums.agent.migration.MigrationFailure;
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
    KubeletArchives archives = new KubeletArchives(mount);

    assertThat(archives.locate("/var/lib/kubelet/checkpoints/checkpoint-web_default-app-2026-11-26T17:00:00Z.tar"))
        .isEqualTo(archive);
    assertThat(archives.delete(archive)).isTrue();
    assertThat(archive).doesNotExist();
    assertThat(archives.delete(archive)).as("idempotent").isTrue();
  }

  @Test
  void neverLeavesTheCheckpointDirectory() throws Exception {
    Path mount = Files.createDirectories(dir.resolve("checkpoints"));
    Path secret = Files.writeString(dir.resolve("secret.tar"), "not an archive of the kubelet");
    Files.createSymbolicLink(mount.resolve("link.tar"), secret);
    Files.createDirectories(mount.resolve("sub.tar"));
    KubeletArchives archives = new KubeletArchives(mount);

    for (String reported : new String[] {"/var/lib/kubelet/checkpoints/..", "/", "..", "/x/link.tar",
        "/var/lib/kubelet/checkpoints/sub.tar", "/var/lib/kubelet/checkpoints/missing.tar", "bad\0name"}) {
      assertThatThrownBy(() -> archives.locate(reported)).as(reported)
          .isInstanceOfSatisfying(MigrationFailure.Exception.class, e ->
              assertThat(e.failure().code()).isEqualTo(MigrationFailure.Code.KUBELET_FAILED));
    }
    assertThat(secret).exists();
  }
}
