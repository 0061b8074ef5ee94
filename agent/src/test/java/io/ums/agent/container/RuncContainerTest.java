package io.ums.agent.container;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.agent.image.LayerCache;
import io.ums.agent.image.OciImageStore;
import io.ums.testkit.BusyboxImages;
import io.ums.testkit.MemServiceClient;
import io.ums.testkit.NetworkTestbed;
import io.ums.agent.workload.Workload;
import io.ums.agent.workload.WorkloadSpec;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real runc containers from our OCI store, in real network namespaces: a container answers on its node's
 * address, and a checkpoint taken on node A (frozen, pages to disk) restores on node B with its memory,
 * counter and writable layer.
 */
@Tag("slow")
class RuncContainerTest {
  @TempDir
  Path dir;
  private Vertx vertx;
  private NetworkTestbed testbed;
  private ContainerWorkloads nodeA;
  private ContainerWorkloads nodeB;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    testbed = NetworkTestbed.create("uct", 2);
    nodeA = containersOn("a", testbed.node(0));
    nodeB = containersOn("b", testbed.node(1));
  }

  @AfterEach
  void tearDown() throws Exception {
    for (ContainerWorkloads node : new ContainerWorkloads[] {nodeA, nodeB}) {
      if (node != null) {
        for (Workload workload : node.list()) {
          get(node.remove(workload.id()));
        }
      }
    }
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    testbed.close();
  }

  @Test
  void containerAnswersOnTheNodeAddressAndIsRemovedCleanly() throws Exception {
    int port = 17000 + ThreadLocalRandom.current().nextInt(1000);
    Workload workload = get(nodeA.launch(spec(port, 16)));
    assertThat(workload.pid()).isPositive();

    MemServiceClient.Answer answer = awaitAnswer(testbed.node(0).address(), port);
    assertThat(answer.checksum()).hasSize(16);
    Path rootfs = dir.resolve("a/containers").resolve(workload.id()).resolve("bundle/rootfs");
    assertThat(Files.readString(rootfs.resolve("data/kept.txt"))).isEqualTo("kept-7\n");
    assertThat(rootfs.resolve(BusyboxImages.DELETABLE_FILE.substring(1))).doesNotExist();
    assertThat(get(nodeA.logs(workload.id()))).contains("ready port=" + port);

    get(nodeA.remove(workload.id()));
    assertThat(nodeA.list()).isEmpty();
    assertThat(dir.resolve("a/containers").resolve(workload.id())).doesNotExist();
  }

  @Test
  void checkpointOnOneNodeRestoresOnAnotherWithMemoryAndWritableLayer() throws Exception {
    int port = 17000 + ThreadLocalRandom.current().nextInt(1000);
    Workload source = get(nodeA.launch(spec(port, 64)));
    MemServiceClient.Answer before = awaitAnswer(testbed.node(0).address(), port);

    Path images = dir.resolve("checkpoint/images");
    get(nodeA.freezeAndCheckpoint(source.id(), images, dir.resolve("checkpoint/dump-work"), null));
    Path diff = dir.resolve("checkpoint/upper.tar");
    long diffBytes = get(nodeA.writeLayerDiff(source.id(), diff));
    assertThat(diffBytes).isPositive();

    Workload restored = get(nodeB.restore(source.spec(), diff, images, dir.resolve("checkpoint/restore-work"),
        "local-test", false));
    MemServiceClient.Answer after = MemServiceClient.verify(testbed.node(1).address(), port, 5000);
    assertThat(after.counter()).isGreaterThanOrEqualTo(before.counter());
    assertThat(after.checksum()).isEqualTo(before.checksum());
    Path rootfs = dir.resolve("b/containers").resolve(restored.id()).resolve("bundle/rootfs");
    assertThat(Files.readString(rootfs.resolve("data/kept.txt"))).isEqualTo("kept-7\n");
    assertThat(rootfs.resolve(BusyboxImages.DELETABLE_FILE.substring(1))).doesNotExist();
    assertThat(restored.restoredFrom()).isEqualTo("local-test");

    // the source stayed frozen (not killed) until told; resuming it is the rollback path
    get(nodeA.thaw(source.id()));
    assertThat(MemServiceClient.query(testbed.node(0).address(), port, 5000).counter())
        .isGreaterThanOrEqualTo(before.counter());
  }

  private ContainerWorkloads containersOn(String name, NetworkTestbed.Node node) {
    Path workDir = dir.resolve(name);
    OciImageStore store = OciImageStore.open(workDir.resolve("images"), workDir.resolve("image-scratch"));
    store.importRootfs("busybox", BusyboxImages.baseLayer(dir), null);
    store.importRootfs("memservice", BusyboxImages.memServiceLayer(dir), "busybox");
    LayerCache cache = new LayerCache(store, workDir.resolve("layers"));
    return new ContainerWorkloads(vertx, store, cache, workDir, node.netnsPath());
  }

  private static WorkloadSpec spec(int port, int mib) {
    return new WorkloadSpec("memservice", WorkloadSpec.KIND_CONTAINER, "runc", "memservice",
        BusyboxImages.memServiceCommand(port, mib, 7), Map.of());
  }

  private static MemServiceClient.Answer awaitAnswer(String host, int port) {
    return await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(host, port, 2000), answer -> true);
  }

  private static <T> T get(Future<T> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
  }
}
