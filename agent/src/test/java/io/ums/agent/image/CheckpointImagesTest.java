package io.ums.agent.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ums.host.HostCommand;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoint archives into checkpoint images in an OCI layout target, with the real skopeo. */
class CheckpointImagesTest {
  @TempDir
  Path dir;

  private Path archive(String name, boolean withConfig) throws Exception {
    Path root = Files.createDirectories(dir.resolve("content-" + name).resolve("checkpoint"));
    Files.writeString(root.resolve("pages-1.img"), "pages");
    if (withConfig) {
      Files.writeString(root.getParent().resolve("config.dump"), new JsonObject().put("name", "app-1")
          .put("rootfsImageName", "docker.io/library/nginx:1.27").put("rootfsImageRef", "sha256:" + "5e".repeat(32))
          .put("runtime", "runc").encode());
    }
    Path tar = dir.resolve(name + ".tar");
    HostCommand.check("tar", "-cf", tar.toString(), "-C", root.getParent().toString(), ".");
    return tar;
  }

  @Test
  void aCheckpointImageHasTheArchiveAsItsLayerAndTheRuntimesAnnotations() throws Exception {
    Path store = dir.resolve("store");
    CheckpointImages images = CheckpointImages.parse("oci:" + store);
    String name = CheckpointImages.imageName("Web_1", "app", "abc123");
    assertThat(name).isEqualTo("localhost/ums-checkpoint/web-1-app:abc123");

    Path archive = archive("a", true);
    long size = Files.size(archive);
    images.importArchive(archive, Files.createDirectories(dir.resolve("scratch")), name, "app");

    assertThat(images.exists(name)).isTrue();
    JsonObject manifest = new JsonObject(HostCommand.check("skopeo", "inspect", "--raw", "oci:" + store + ":" + name));
    assertThat(manifest.getJsonArray("layers")).hasSize(1);
    assertThat(manifest.getJsonArray("layers").getJsonObject(0).getLong("size")).isEqualTo(size);
    assertThat(manifest.getJsonObject("annotations").getMap())
        .containsEntry("io.kubernetes.cri-o.annotations.checkpoint.name", "app")
        .containsEntry("io.podman.annotations.checkpoint.name", "app-1")
        .containsEntry("io.podman.annotations.checkpoint.runtime.name", "runc")
        .containsEntry("org.criu.checkpoint.container.name", "app")
        .containsEntry("org.criu.checkpoint.rootfsImageName", "docker.io/library/nginx:1.27")
        .containsEntry("org.criu.checkpoint.runtime.name", "runc")
        .containsEntry("org.criu.checkpoint.rootfsImageID", "sha256:" + "5e".repeat(32))
        .containsEntry("io.kubernetes.cri-o.annotations.checkpoint.rootfsImageName", "docker.io/library/nginx:1.27");
    assertThat(archive).as("adopted as the layer, not copied").doesNotExist();

    images.remove(name);
    assertThat(images.exists(name)).isFalse();
  }

  /** Retiring repoints a name in containerd only; discarding removes from any store, and nothing twice. */
  @Test
  void onlyContainerdRetiresACheckpointImageAndAnyStoreDiscardsOne() throws Exception {
    Path store = dir.resolve("store");
    CheckpointImages images = CheckpointImages.parse("oci:" + store);
    String name = CheckpointImages.imageName("web", "app", "d1");
    images.importArchive(archive("e", true), Files.createDirectories(dir.resolve("scratch")), name, "app");

    assertThatThrownBy(() -> images.retire(name)).isInstanceOfSatisfying(ImageStoreException.class,
        e -> assertThat(e.code()).isEqualTo(ImageStoreException.Code.UNSUPPORTED))
        .hasMessageContaining("only a containerd store retires them");
    for (String notOurs : new String[] {"docker.io/library/nginx:1.27", "localhost/ums-checkpoint/no-tag", ""}) {
      assertThatThrownBy(() -> images.discard(notOurs)).as(notOurs).isInstanceOfSatisfying(
          ImageStoreException.class, e -> assertThat(e.code()).isEqualTo(ImageStoreException.Code.INVALID));
      assertThatThrownBy(() -> images.retire(notOurs)).as(notOurs).isInstanceOfSatisfying(
          ImageStoreException.class, e -> assertThat(e.code()).isEqualTo(ImageStoreException.Code.INVALID));
    }
    assertThat(images.exists(name)).isTrue();

    assertThat(images.discard(name)).containsExactly(name);
    assertThat(images.exists(name)).isFalse();
    assertThat(images.discard(name)).isEmpty();
  }

  @Test
  void refusesWhatIsNotACheckpointArchiveAndImportsNothing() throws Exception {
    Path store = dir.resolve("store");
    CheckpointImages images = CheckpointImages.parse("oci:" + store);
    Path noConfig = archive("b", false);
    assertThatThrownBy(() -> images.importArchive(noConfig, dir.resolve("s1"), "localhost/x/y:1", "app"))
        .isInstanceOf(ImageStoreException.class).hasMessageContaining("no config.dump");
    Path zstd = Files.write(dir.resolve("c.tar"), new byte[] {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd, 0, 0});
    assertThatThrownBy(() -> images.importArchive(zstd, dir.resolve("s2"), "localhost/x/y:2", "app"))
        .isInstanceOf(ImageStoreException.class).hasMessageContaining("zstd");
    assertThat(images.exists("localhost/x/y:1")).isFalse();
    assertThat(images.exists("localhost/x/y:2")).isFalse();
  }

  @Test
  void aGzipArchiveIsUnpackedIntoAPlainLayer() throws Exception {
    Path archive = archive("d", true);
    HostCommand.check("gzip", archive.toString());
    Path gz = dir.resolve("d.tar.gz");
    CheckpointArchive contents = CheckpointArchive.read(gz);
    assertThat(contents.name()).contains("app-1");
    assertThat(contents.runtime()).contains("runc");
  }

  @Test
  void theStoreIsContainersStorageOrAnOciDirectory() {
    assertThat(CheckpointImages.parse("containers-storage")).hasToString("containers-storage");
    assertThat(CheckpointImages.parse("oci:/var/lib/ums/checkpoints")).hasToString("oci:/var/lib/ums/checkpoints");
    for (String bad : new String[] {"docker", "oci:", "oci:relative", ""}) {
      assertThatThrownBy(() -> CheckpointImages.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
    }
  }
}
