package io.ums.agent.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ums.host.HostCommand;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code containerd:<socket>[#<namespace>]} setting of {@code --checkpoint-images}, and its errors when
 * containerd is not there or ctr fails. No containerd: {@link ContainerdCheckpointRestoreTest} imports into a
 * real one. The failing "ctr" here is a shell script that prints ctr's dial error and exits 1.
 */
class ContainerdImagesTest {
  @TempDir
  Path dir;

  @Test
  void aContainerdTargetIsASocketPathWithTheCriNamespaceUnlessOneIsGiven() {
    CheckpointImages plain = CheckpointImages.parse("containerd:/run/containerd/containerd.sock");
    assertThat(plain.containerdSocket()).contains(Path.of("/run/containerd/containerd.sock"));
    assertThat(plain.containerdNamespace()).contains("k8s.io");
    assertThat(plain).hasToString("containerd:/run/containerd/containerd.sock");

    CheckpointImages named = CheckpointImages.parse("containerd:/var/lib/ums/c.sock#ums-test.1", "/opt/bin/ctr");
    assertThat(named.containerdSocket()).contains(Path.of("/var/lib/ums/c.sock"));
    assertThat(named.containerdNamespace()).contains("ums-test.1");
    assertThat(named).hasToString("containerd:/var/lib/ums/c.sock#ums-test.1");

    assertThat(CheckpointImages.parse("containers-storage").containerdSocket()).isEmpty();
    assertThat(CheckpointImages.parse("oci:/tmp/store").containerdSocket()).isEmpty();
  }

  @Test
  void badContainerdTargetsAreRefusedWithWhatIsWrong() {
    assertThatThrownBy(() -> CheckpointImages.parse("containerd:"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("absolute socket path");
    assertThatThrownBy(() -> CheckpointImages.parse("containerd:run/containerd.sock"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("absolute socket path");
    assertThatThrownBy(() -> CheckpointImages.parse("containerd:/run/c.sock#"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("namespace \"\" is not a valid name");
    assertThatThrownBy(() -> CheckpointImages.parse("containerd:/run/c.sock#a/b"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("namespace \"a/b\"");
    assertThatThrownBy(() -> CheckpointImages.parse("containerd:/run/c.sock", " "))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--ctr");
    assertThatThrownBy(() -> CheckpointImages.parse("cri-o:/run/crio.sock"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("containerd:<absolute socket path>[#<namespace>]");
  }

  @Test
  void aMissingSocketFailsTheImportAtOnceAndLeavesTheArchive() throws Exception {
    Path socket = dir.resolve("absent.sock");
    CheckpointImages images = CheckpointImages.parse("containerd:" + socket, "/nonexistent/ctr");
    Path archive = archive();
    assertThatThrownBy(() -> images.importArchive(archive, Files.createDirectories(dir.resolve("scratch")),
        "localhost/ums-checkpoint/p-c:1", "c"))
        .isInstanceOfSatisfying(ImageStoreException.class,
            e -> assertThat(e.code()).isEqualTo(ImageStoreException.Code.RUNTIME_UNAVAILABLE))
        .hasMessageContaining("containerd socket " + socket + " does not exist");
    assertThat(archive).as("nothing consumed").exists();
    images.remove("localhost/ums-checkpoint/p-c:1");
  }

  @Test
  void aFailingCtrIsAnIoErrorNamingTheCommandAndItsLastLineAndTheScratchLayoutIsGone() throws Exception {
    Path socket = Files.createFile(dir.resolve("containerd.sock"));
    Path ctr = dir.resolve("ctr");
    // like the real ctr when containerd does not answer: it exits without reading the archive
    Files.writeString(ctr, "#!/bin/sh\necho 'ctr: failed to dial \"" + socket
        + "\": connection refused' >&2\nexit 1\n");
    Files.setPosixFilePermissions(ctr, PosixFilePermissions.fromString("rwxr-xr-x"));
    CheckpointImages images = CheckpointImages.parse("containerd:" + socket, ctr.toString());
    Path scratch = Files.createDirectories(dir.resolve("scratch"));

    assertThatThrownBy(() -> images.importArchive(archive(), scratch, "localhost/ums-checkpoint/p-c:2", "c"))
        .isInstanceOfSatisfying(ImageStoreException.class,
            e -> assertThat(e.code()).isEqualTo(ImageStoreException.Code.IO))
        .hasMessageContaining(ctr + " --address " + socket + " --namespace k8s.io images import - failed (exit 1)")
        .hasMessageContaining("connection refused");
    assertThat(scratch.resolve("containerd-layout")).doesNotExist();
    assertThat(scratch.resolve("layout")).doesNotExist();
    images.remove("localhost/ums-checkpoint/p-c:2");
  }

  private Path archive() throws Exception {
    Path root = Files.createDirectories(dir.resolve("content").resolve("checkpoint"));
    // more than a pipe's buffer: tar meets a broken pipe when ctr exits without reading
    Files.write(root.resolve("pages-1.img"), new byte[1 << 20]);
    Files.writeString(root.getParent().resolve("config.dump"), new JsonObject().put("name", "c")
        .put("rootfsImageName", "localhost/ums-busybox:check").put("runtime", "runc").encode());
    Path tar = dir.resolve("checkpoint.tar");
    HostCommand.check("tar", "-cf", tar.toString(), "-C", root.getParent().toString(), ".");
    return tar;
  }
}
