package io.ums.agent.image;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.agent.container.OverlayRootfs;
import io.ums.host.HostCommand;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real overlayfs (root needed): changes made through the mount become an OCI layer diff with whiteouts
 * and an opaque directory, and that diff applied to a fresh upper dir over the same lower dir shows the same
 * tree.
 */
@Tag("slow")
class LayerDiffTest {
  @TempDir
  Path dir;
  private OverlayRootfs first;
  private OverlayRootfs second;

  @AfterEach
  void unmount() {
    for (OverlayRootfs rootfs : new OverlayRootfs[] {first, second}) {
      if (rootfs != null) {
        rootfs.unmount();
      }
    }
  }

  @Test
  void changesDeletionsAndOpaqueDirectoriesSurviveTheRoundTrip() throws Exception {
    Path lower = Files.createDirectories(dir.resolve("lower"));
    Files.writeString(lower.resolve("changed"), "old");
    Files.writeString(lower.resolve("deleted"), "bye");
    Files.createDirectories(lower.resolve("replaced"));
    Files.writeString(lower.resolve("replaced/old-child"), "hidden after the replace");
    Files.createDirectories(lower.resolve("kept"));
    Files.writeString(lower.resolve("kept/child"), "stays");

    first = overlay("first", lower);
    Path merged = first.mountPoint();
    Files.writeString(merged.resolve("changed"), "new");
    Files.delete(merged.resolve("deleted"));
    HostCommand.check("rm", "-rf", merged.resolve("replaced").toString());
    Files.createDirectories(merged.resolve("replaced"));
    Files.writeString(merged.resolve("replaced/new-child"), "fresh");
    Files.createDirectories(merged.resolve("added/deep"));
    Files.writeString(merged.resolve("added/deep/file"), "added");
    Files.createSymbolicLink(merged.resolve("link"), Path.of("changed"));
    first.unmount();

    Path diff = dir.resolve("diff.tar");
    try (OutputStream out = Files.newOutputStream(diff)) {
      LayerDiff.write(first.upperDir(), out);
    }
    List<String> entries = List.of(HostCommand.check("tar", "-tf", diff.toString()).split("\n"));
    assertThat(entries).contains("changed", ".wh.deleted", "replaced/", "replaced/.wh..wh..opq",
        "replaced/new-child", "added/deep/file", "link").doesNotContain("kept/child", "deleted");

    second = overlay("second", lower);
    second.unmount();
    LayerDiff.apply(diff, second.upperDir());
    second.mount();
    Path restored = second.mountPoint();
    assertThat(Files.readString(restored.resolve("changed"))).isEqualTo("new");
    assertThat(restored.resolve("deleted")).doesNotExist();
    assertThat(restored.resolve("replaced/old-child")).doesNotExist();
    assertThat(Files.readString(restored.resolve("replaced/new-child"))).isEqualTo("fresh");
    assertThat(Files.readString(restored.resolve("kept/child"))).isEqualTo("stays");
    assertThat(Files.readString(restored.resolve("added/deep/file"))).isEqualTo("added");
    assertThat(Files.readSymbolicLink(restored.resolve("link"))).isEqualTo(Path.of("changed"));
  }

  private OverlayRootfs overlay(String name, Path lower) throws Exception {
    OverlayRootfs rootfs = new OverlayRootfs(List.of(lower), Files.createDirectories(dir.resolve(name + "-upper")),
        Files.createDirectories(dir.resolve(name + "-work")), Files.createDirectories(dir.resolve(name + "-merged")));
    rootfs.mount();
    return rootfs;
  }
}
