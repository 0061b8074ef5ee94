package io.ums.bench.demo;

import io.ums.agent.container.ContainerDir;
import io.ums.testkit.BusyboxImages;
import io.ums.bench.local.MemServiceImage;
import io.ums.bench.local.UmsApi;
import io.ums.bench.local.UmsCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The container case of the demo: a busybox base image plus a memservice layer imported on node A, the
 * memservice run in a runc container whose shell wrapper first writes {@code /data/kept.txt} into the writable
 * layer and deletes a file of the image; after the move both changes are looked for in the destination
 * container's root filesystem. Blocking: called from the demo's thread only.
 */
final class RuncDemoWorkload {
  static final String APPROACH = "runc";
  private static final long SEED = 7;

  private RuncDemoWorkload() {}

  /** Imports the two-layer image on the node and launches the container; returns its workload id. */
  static String launch(UmsApi ums, int node, String name, Path imageDir, int port, int sizeMiB) {
    MemServiceImage.importOn(ums, node, imageDir);
    return ums.launchRuncContainer(node, name, MemServiceImage.NAME, BusyboxImages.memServiceCommand(port, sizeMiB, SEED));
  }

  /** Whether the container's writes (a new file, a deleted image file) are in its root filesystem on the node. */
  static boolean fileKept(UmsCluster cluster, int node, String workloadId) {
    Path rootfs = new ContainerDir(cluster.agentWorkDir(node).resolve("containers").resolve(workloadId)).rootfs();
    Path kept = rootfs.resolve("data/kept.txt");
    try {
      return Files.isRegularFile(kept) && Files.readString(kept).equals("kept-" + SEED + "\n")
          && Files.notExists(rootfs.resolve(BusyboxImages.DELETABLE_FILE.substring(1)));
    } catch (IOException unreadable) {
      return false;
    }
  }
}
