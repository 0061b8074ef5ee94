package io.ums.agent.container;

import io.ums.host.HostCommand;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A container's root filesystem: the image's unpacked layers as overlayfs lower dirs (top first) and the
 * container's own upper dir. Redirects, metacopy and the inode index are off so that the upper dir holds
 * whole files and can be shipped as a plain layer diff. Blocking.
 */
public record OverlayRootfs(List<Path> lowerDirs, Path upperDir, Path workDir, Path mountPoint) {
  public OverlayRootfs {
    lowerDirs = List.copyOf(lowerDirs);
  }

  public void mount() {
    if (isMounted()) {
      return;
    }
    String lower = lowerDirs.stream().map(Path::toString).collect(Collectors.joining(":"));
    String options = "lowerdir=" + lower + ",upperdir=" + upperDir + ",workdir=" + workDir
        + ",redirect_dir=off,metacopy=off,index=off";
    HostCommand.Result result = HostCommand.run("mount", "-t", "overlay", "overlay", "-o", options,
        mountPoint.toString());
    if (!result.ok()) {
      throw new ContainerException(ContainerException.Code.ROOTFS_FAILED,
          "cannot mount the overlay root filesystem at " + mountPoint + ": " + result.output());
    }
  }

  /** Unmounts (lazily when busy: a dying container may still hold it a moment). Idempotent. */
  public void unmount() {
    if (!isMounted()) {
      return;
    }
    HostCommand.Result result = HostCommand.run("umount", mountPoint.toString());
    if (!result.ok()) {
      HostCommand.run("umount", "-l", mountPoint.toString());
    }
  }

  public boolean isMounted() {
    return HostCommand.run("mountpoint", "-q", mountPoint.toString()).ok();
  }
}
