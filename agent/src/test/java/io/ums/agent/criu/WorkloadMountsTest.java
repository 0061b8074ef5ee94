package io.ums.agent.criu;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.host.HostCommand;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the images of a workload launched with a user change in CRIU's arguments: nothing for one sharing the
 * agent's namespaces; with a user namespace in the images, live connections are restored closed. And the
 * sweep of what a restore killed with its agent left mounted (real bind mounts of the node's root, as root).
 */
class WorkloadMountsTest {
  @TempDir
  Path images;
  @TempDir
  Path mountsDir;

  @AfterEach
  void detachWhatATestLeft() {
    HostCommand.run("sh", "-c", "grep -o ' " + mountsDir + "/[^ ]*' /proc/self/mountinfo | sort -r"
        + " | xargs -r -n1 umount -l");
  }

  @Test
  void aProcessInTheAgentsMountNamespaceDumpsNoExternalMounts() {
    assertThat(WorkloadMounts.dumpArguments(ProcessHandle.current().pid())).isEmpty();
    assertThat(WorkloadMounts.inOwnUserNamespace(ProcessHandle.current().pid())).isFalse();
  }

  @Test
  void imagesWithAUserNamespaceAreRestoredWithConnectionsClosed() throws Exception {
    CriuRestore.Options options = new CriuRestore.Options(images, images, Optional.empty(), images.resolve("out"),
        true);
    assertThat(CriuRestore.arguments(options)).contains("--tcp-established");
    assertThat(WorkloadMounts.hasMountNamespace(images)).isFalse();

    Files.createFile(images.resolve("userns-12.img"));
    Files.createFile(images.resolve("mountpoints-11.img"));

    assertThat(CriuRestore.arguments(options)).contains("--tcp-close").doesNotContain("--tcp-established");
    assertThat(WorkloadMounts.hasMountNamespace(images)).isTrue();
  }

  @Test
  void theBindMountsOfARestoreWhoseAgentIsGoneAreDetachedAndDeletedAndALiveAgentsStay() throws Exception {
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    Path orphan = Files.createDirectories(mountsDir.resolve("restore-" + gone.pid() + "-123/mount-root"));
    Path live = Files.createDirectories(mountsDir.resolve("restore-" + ProcessHandle.current().pid() + "-456/mount-root"));
    HostCommand.check("mount", "--bind", "/", orphan.toString());
    HostCommand.check("mount", "--bind", "/", live.toString());

    assertThat(WorkloadMounts.sweepOrphans(mountsDir)).isEqualTo(1);

    assertThat(orphan.getParent()).doesNotExist();
    assertThat(Path.of("/etc/hostname")).as("the node's root, bound below the orphan").exists();
    assertThat(Files.readString(Path.of("/proc/self/mountinfo"))).doesNotContain(orphan.toString())
        .contains(live.toString());
    assertThat(live.resolve("etc/hostname")).exists();
  }
}
