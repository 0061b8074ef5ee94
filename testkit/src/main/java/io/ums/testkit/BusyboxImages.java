package io.ums.testkit;

import io.ums.host.HostCommand;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * Root filesystem tarballs for test containers, with no registry: a base layer made of Debian's
 * busybox-static ({@code /bin/busybox} plus applet symlinks and a few files), and a top layer holding the
 * statically linked {@link MemService} as {@code /memservice}. Blocking: set-up code only.
 */
public final class BusyboxImages {
  /** A file of the base image that container tests delete, to check that the deletion survives migration. */
  public static final String DELETABLE_FILE = "/etc/ums-deletable";
  private static final List<String> APPLETS = List.of("sh", "ls", "cat", "echo", "rm", "mkdir", "sleep", "test",
      "sync", "touch", "stat", "head", "dd");

  private BusyboxImages() {}

  /** Builds (once) the base rootfs tarball in {@code dir} and returns it. */
  public static synchronized Path baseLayer(Path dir) {
    Path tarball = dir.resolve("busybox-base.tar");
    if (Files.exists(tarball)) {
      return tarball;
    }
    Path root = dir.resolve("busybox-base");
    try {
      for (String sub : List.of("bin", "etc", "tmp", "proc", "dev", "sys", "data")) {
        Files.createDirectories(root.resolve(sub));
      }
      Path busybox = Path.of("/bin/busybox");
      if (!Files.isExecutable(busybox)) {
        throw new IllegalStateException("/bin/busybox missing: install Debian's busybox-static (./ums setup does)");
      }
      Files.copy(busybox, root.resolve("bin/busybox"), StandardCopyOption.REPLACE_EXISTING,
          StandardCopyOption.COPY_ATTRIBUTES);
      for (String applet : APPLETS) {
        Files.deleteIfExists(root.resolve("bin").resolve(applet));
        Files.createSymbolicLink(root.resolve("bin").resolve(applet), Path.of("busybox"));
      }
      Files.writeString(root.resolve("etc/hostname"), "ums\n");
      Files.writeString(root.resolve(DELETABLE_FILE.substring(1)), "this file is deleted by the test workload\n");
      tar(root, tarball);
      return tarball;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Builds (once) a layer holding {@code /memservice} in {@code dir} and returns it. */
  public static synchronized Path memServiceLayer(Path dir) {
    Path tarball = dir.resolve("memservice-layer.tar");
    if (Files.exists(tarball)) {
      return tarball;
    }
    Path root = dir.resolve("memservice-layer");
    try {
      Files.createDirectories(root);
      Files.copy(MemService.build(dir.resolve("memservice-build")), root.resolve("memservice"),
          StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES);
      tar(root, tarball);
      return tarball;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The command of a test container: writes {@code /data/kept.txt}, deletes {@link #DELETABLE_FILE} from the
   * image, then becomes the memory service.
   */
  public static List<String> memServiceCommand(int port, int mib, long seed) {
    return List.of("/bin/sh", "-c", "echo kept-" + seed + " > /data/kept.txt && rm -f " + DELETABLE_FILE
        + " && exec /memservice " + port + " " + mib + " " + seed);
  }

  private static void tar(Path root, Path tarball) {
    Path partial = tarball.resolveSibling(tarball.getFileName() + ".partial");
    HostCommand.check("tar", "--numeric-owner", "--owner=0", "--group=0", "-cf", partial.toString(),
        "-C", root.toString(), ".");
    try {
      Files.move(partial, tarball, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
