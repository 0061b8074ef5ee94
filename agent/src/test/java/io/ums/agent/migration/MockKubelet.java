package io.ums.agent.migration;

import io.ums.host.HostCommand;
import io.ums.testkit.TestCertificates;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A MOCK of the kubelet's checkpoint API (a real kubelet cannot run on these machines): an HTTPS server with
 * a certificate from a throw-away cluster CA that checks the bearer token and, for {@code POST /checkpoint/{ns}/{pod}/{ctr}},
 * runs a REAL checkpoint the way CRI-O would for the kubelet: {@code podman container checkpoint
 * --leave-running --export} of the pod's container into the checkpoint directory (the container goes on
 * running), then answers {@code {"items":["/var/lib/kubelet/checkpoints/<archive>"]}}, the path on the
 * node as a kubelet reports it. {@link #answer} switches it to the refusals a real kubelet gives.
 */
final class MockKubelet implements AutoCloseable {
  static final String TOKEN = "the-agents-service-account-token";
  static final String KUBELET_DIR = "/var/lib/kubelet/checkpoints";

  enum Answer { CHECKPOINT, FORBIDDEN, NOT_FOUND }

  private final Vertx vertx = Vertx.vertx();
  private final Path checkpointDir;
  private final PodmanPods pods;
  private final Path caPem;
  private final String host;
  private final HttpServer server;
  private volatile Answer answer = Answer.CHECKPOINT;
  private volatile long lastCheckpointMillis = -1;
  private volatile long delayMillis;
  private volatile java.util.function.BooleanSupplier slowWriter;
  private volatile boolean readWhileWriting;
  private final java.util.concurrent.atomic.AtomicInteger checkpointsWritten = new java.util.concurrent.atomic.AtomicInteger();

  private MockKubelet(Path dir, String host, Path checkpointDir, PodmanPods pods) throws Exception {
    this.checkpointDir = checkpointDir;
    this.pods = pods;
    this.host = host;
    // the cluster CA signs the kubelet's serving certificate (kubelets with serverTLSBootstrap)
    TestCertificates clusterCa = TestCertificates.authority(dir, "mock-cluster-ca");
    this.caPem = clusterCa.caCertificate();
    Router router = Router.router(vertx);
    router.post("/checkpoint/:namespace/:pod/:container").handler(this::checkpoint);
    server = vertx.createHttpServer(clusterCa.server("kubelet", List.of(host))
            .applyTo(new HttpServerOptions().setHost(host).setPort(0)))
        .requestHandler(router).listen().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  /** Listens on {@code host} (the testbed's bridge address, which the nodes reach). */
  static MockKubelet start(Path dir, String host, Path checkpointDir, PodmanPods pods) throws Exception {
    return new MockKubelet(dir, host, checkpointDir, pods);
  }

  String url() {
    return "https://" + host + ":" + server.actualPort();
  }

  /** The PEM a client verifies this kubelet's certificate with. */
  Path caPem() {
    return caPem;
  }

  void answer(Answer next) {
    answer = next;
  }

  /** A slow kubelet: it waits this long before it checkpoints (a large container, a busy node). */
  void delay(long millis) {
    delayMillis = millis;
  }

  /**
   * A kubelet whose runtime writes the archive in two halves (as containerd appends it), the second only once
   * {@code reading} says the source is reading the first (or after 60 s), then answers; {@link #readWhileWriting}
   * tells which.
   */
  void writeSlowly(java.util.function.BooleanSupplier reading) {
    slowWriter = reading;
  }

  /** Whether the source was reading the last archive before it was complete. */
  boolean readWhileWriting() {
    return readWhileWriting;
  }

  /** How many archives this kubelet has written and answered with. */
  int checkpointsWritten() {
    return checkpointsWritten.get();
  }

  long lastCheckpointMillis() {
    return lastCheckpointMillis;
  }

  private void checkpoint(RoutingContext context) {
    if (!("Bearer " + TOKEN).equals(context.request().getHeader("Authorization"))) {
      context.response().setStatusCode(401).end("Unauthorized");
      return;
    }
    String namespace = context.pathParam("namespace");
    String pod = context.pathParam("pod");
    String container = context.pathParam("container");
    switch (answer) {
      case FORBIDDEN -> context.response().setStatusCode(403).end("Forbidden (user=system:serviceaccount:ums:"
          + "ums-agent, verb=create, resource=nodes, subresource=checkpoint)");
      case NOT_FOUND -> context.response().setStatusCode(404).end("404 page not found");
      case CHECKPOINT -> {
        String archive = "checkpoint-" + pod + "_" + namespace + "-" + container + "-"
            + Instant.now().toString().replace(':', '-') + ".tar";
        vertx.executeBlocking(() -> {
          TimeUnit.MILLISECONDS.sleep(delayMillis);
          long started = System.nanoTime();
          java.util.function.BooleanSupplier reading = slowWriter;
          Path written = reading == null ? checkpointDir.resolve(archive) : checkpointDir.resolve(archive + ".part");
          HostCommand.Result result = pods.checkpoint(pod, container, written);
          if (reading != null && result.ok()) {
            appendInTwoHalves(written, checkpointDir.resolve(archive), reading);
          }
          lastCheckpointMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
          return result;
        }, false).onComplete(done -> {
          if (done.succeeded() && done.result().ok()) {
            checkpointsWritten.incrementAndGet();
            context.response().putHeader("content-type", "application/json").end(new JsonObject()
                .put("items", new JsonArray(List.of(KUBELET_DIR + "/" + archive))).encode());
          } else {
            context.response().setStatusCode(500).end("checkpointing of " + namespace + "/" + pod + "/"
                + container + " failed: " + (done.succeeded() ? done.result().output() : done.cause()));
          }
        });
      }
      default -> throw new IllegalStateException();
    }
  }

  private void appendInTwoHalves(Path whole, Path archive, java.util.function.BooleanSupplier reading)
      throws Exception {
    byte[] bytes = java.nio.file.Files.readAllBytes(whole);
    java.nio.file.Files.delete(whole);
    try (var out = java.nio.file.Files.newOutputStream(archive)) {
      out.write(bytes, 0, bytes.length / 2);
      out.flush();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!reading.getAsBoolean() && System.nanoTime() < deadline) {
        TimeUnit.MILLISECONDS.sleep(20);
      }
      readWhileWriting = reading.getAsBoolean();
      out.write(bytes, bytes.length / 2, bytes.length - bytes.length / 2);
    }
  }

  @Override
  public void close() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
