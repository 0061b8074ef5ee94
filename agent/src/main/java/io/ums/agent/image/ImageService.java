package io.ums.agent.image;

import io.ums.agent.image.ImageStoreException.Code;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The image store as the agent's event loop uses it: every operation on a worker thread. Deleting an image
 * a container still runs from is refused; layers no image references any more are evicted from the
 * unpacked-layer cache.
 */
public final class ImageService {
  private final Vertx vertx;
  private final OciImageStore store;
  private final LayerCache layers;
  private final Predicate<String> imageInUse;

  public ImageService(Vertx vertx, OciImageStore store, LayerCache layers, Predicate<String> imageInUse) {
    this.vertx = vertx;
    this.store = store;
    this.layers = layers;
    this.imageInUse = imageInUse;
  }

  /** The store under {@code workDir/images} and its unpacked layers under {@code workDir/layers}. */
  public static OciImageStore openStore(Path workDir) {
    return OciImageStore.open(workDir.resolve("images"), workDir.resolve("image-scratch"));
  }

  public static LayerCache openLayerCache(OciImageStore store, Path workDir) {
    return new LayerCache(store, workDir.resolve("layers"));
  }

  public OciImageStore store() {
    return store;
  }

  public LayerCache layers() {
    return layers;
  }

  public Future<Image> importRootfs(String name, Path tarball, String base) {
    return vertx.executeBlocking(() -> store.importRootfs(name, tarball, base), false);
  }

  public Future<List<Image>> list() {
    return vertx.executeBlocking(store::list, false);
  }

  public Future<Image> get(String name) {
    return vertx.executeBlocking(() -> store.get(name), false);
  }

  public Future<Void> delete(String name) {
    return vertx.executeBlocking(() -> {
      store.get(name);
      if (imageInUse.test(name)) {
        throw new ImageStoreException(Code.IN_USE, "image " + name + " is used by a container on this node");
      }
      Set<Digest> removed = store.delete(name);
      removed.forEach(layers::evict);
      return null;
    }, false);
  }
}
