package io.ums.bench.local;

import io.ums.testkit.BusyboxImages;
import java.nio.file.Path;

/**
 * The container image the demo and the bench run the memservice from: Debian's busybox-static as the base
 * image, {@code /memservice} as a layer on top, imported into a node's agent store. Blocking.
 */
public final class MemServiceImage {
  public static final String BASE = "busybox";
  public static final String NAME = "memservice";
  /** Where the image puts the memservice binary. */
  public static final String BINARY = "/memservice";

  private MemServiceImage() {}

  /** Builds the layer tarballs in {@code buildDir} (once) and imports base and image on the node. */
  public static void importOn(UmsApi ums, int node, Path buildDir) {
    ums.importImage(node, BASE, BusyboxImages.baseLayer(buildDir), null);
    ums.importImage(node, NAME, BusyboxImages.memServiceLayer(buildDir), BASE);
  }
}
