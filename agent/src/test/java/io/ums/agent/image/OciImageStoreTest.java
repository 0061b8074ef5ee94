package io.ums.agent.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ums.host.HostCommand;
import io.ums.testkit.BusyboxImages;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The OCI layout store on a real disk, read back by a real OCI tool (skopeo). */
class OciImageStoreTest {
  @TempDir
  Path dir;
  private OciImageStore store;
  private Path base;
  private Path top;

  @BeforeEach
  void setUp() {
    store = OciImageStore.open(dir.resolve("images"), dir.resolve("scratch"));
    base = BusyboxImages.baseLayer(dir);
    top = BusyboxImages.memServiceLayer(dir);
  }

  @Test
  void importsLayersByDigestAndSharesTheBase() throws Exception {
    Image busybox = store.importRootfs("busybox", base, null);
    Image service = store.importRootfs("memservice", top, "busybox");

    assertThat(busybox.layers()).hasSize(1);
    assertThat(busybox.layers().get(0).digest()).isEqualTo(sha256(base));
    assertThat(busybox.layers().get(0).size()).isEqualTo(Files.size(base));
    assertThat(service.layers()).hasSize(2);
    assertThat(service.layers().get(0)).isEqualTo(busybox.layers().get(0));
    assertThat(service.layers().get(1).digest()).isEqualTo(sha256(top));
    assertThat(store.list()).extracting(Image::name).containsExactlyInAnyOrder("busybox", "memservice");
    assertThat(store.hasBlob(sha256(base))).isTrue();

    // a second store over the same directory sees the same images (the index is the truth)
    OciImageStore reopened = OciImageStore.open(dir.resolve("images"), dir.resolve("scratch"));
    assertThat(reopened.get("memservice")).isEqualTo(service);
  }

  @Test
  void theLayoutIsReadableByAnOciTool() {
    Image service = store.importRootfs("memservice", top, null);
    String inspected = HostCommand.check("skopeo", "inspect", "oci:" + store.root() + ":memservice");
    JsonObject json = new JsonObject(inspected);
    assertThat(json.getJsonArray("Layers").getList()).containsExactly(service.layers().get(0).digest().toString());
    assertThat(json.getString("Digest")).isEqualTo(service.manifest().toString());
  }

  @Test
  void deleteKeepsSharedLayersAndRemovesTheRest() {
    Image busybox = store.importRootfs("busybox", base, null);
    Image service = store.importRootfs("memservice", top, "busybox");

    assertThat(store.delete("memservice")).containsExactly(service.layers().get(1).digest());
    assertThat(store.hasBlob(busybox.layers().get(0).digest())).isTrue();
    assertThat(store.hasBlob(service.manifest())).isFalse();
    assertThat(store.find("memservice")).isEmpty();

    assertThat(store.delete("busybox")).containsExactly(busybox.layers().get(0).digest());
    assertThat(dir.resolve("images/blobs/sha256").toFile().list()).isEmpty();
  }

  @Test
  void refusesBadNamesDuplicatesUnknownBasesAndNonTars() throws Exception {
    store.importRootfs("busybox", base, null);
    assertThat(code(() -> store.importRootfs("busybox", top, null))).isEqualTo(ImageStoreException.Code.ALREADY_EXISTS);
    assertThat(code(() -> store.importRootfs("../evil", top, null))).isEqualTo(ImageStoreException.Code.INVALID);
    assertThat(code(() -> store.importRootfs("x", top, "nope"))).isEqualTo(ImageStoreException.Code.INVALID);
    Path notTar = Files.writeString(dir.resolve("not.tar"), "hello");
    assertThat(code(() -> store.importRootfs("y", notTar, null))).isEqualTo(ImageStoreException.Code.INVALID);
    assertThat(code(() -> store.delete("nope"))).isEqualTo(ImageStoreException.Code.NOT_FOUND);
    assertThat(store.list()).extracting(Image::name).containsExactly("busybox");
  }

  @Test
  void adoptsAReceivedBlobOnlyWhenItsDigestMatches() throws Exception {
    Digest expected = sha256(top);
    Path received = store.newScratchFile();
    Files.copy(top, received);
    store.adoptBlob(received, expected);
    assertThat(store.hasBlob(expected)).isTrue();

    Path corrupted = store.newScratchFile();
    byte[] bytes = Files.readAllBytes(base);
    bytes[bytes.length / 2] ^= 1;
    Files.write(corrupted, bytes);
    Digest announced = sha256(base);
    assertThatThrownBy(() -> store.adoptBlob(corrupted, announced))
        .isInstanceOfSatisfying(ImageStoreException.class,
            e -> assertThat(e.code()).isEqualTo(ImageStoreException.Code.DIGEST_MISMATCH));
    assertThat(store.hasBlob(announced)).isFalse();
    assertThat(corrupted).doesNotExist();
  }

  @Test
  void registersAnImageFromAnotherNodesManifest() {
    Image service = store.importRootfs("memservice", top, null);
    OciImageStore other = OciImageStore.open(dir.resolve("other"), dir.resolve("other-scratch"));
    Path blob = other.newScratchFile();
    HostCommand.check("cp", store.blobPath(service.layers().get(0).digest()).toString(), blob.toString());
    other.adoptBlob(blob, service.layers().get(0).digest());

    Image registered = other.register("memservice", store.readBlob(service.manifest()),
        store.readBlob(service.config()));
    assertThat(registered).isEqualTo(service);
    assertThat(other.register("memservice", store.readBlob(service.manifest()), store.readBlob(service.config())))
        .isEqualTo(service);
  }

  private static ImageStoreException.Code code(Runnable action) {
    try {
      action.run();
    } catch (ImageStoreException e) {
      return e.code();
    }
    throw new AssertionError("expected an ImageStoreException");
  }

  private static Digest sha256(Path file) throws Exception {
    try (InputStream in = Files.newInputStream(file)) {
      return StoreFiles.copyHashing(in, null);
    }
  }

}
