package io.ums.bench.demo;

import io.ums.testkit.MemService;
import io.ums.testkit.NetworkTestbed;
import io.ums.testkit.TestCertificates;
import io.ums.bench.local.Cleanup;
import io.ums.bench.local.Commands;
import io.ums.bench.local.JsonHttp;
import io.ums.bench.local.Scratch;
import io.ums.bench.local.Testbeds;
import io.ums.bench.local.UmsApi;
import io.ums.bench.local.UmsCluster;
import io.ums.bench.local.UmsJars;
import io.ums.bench.kube.KubernetesDemo;
import io.ums.bench.probe.MigrationObserver;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./ums demo}: two network-namespace nodes, two agents and a coordinator from the built jars, the
 * memservice (256 MiB of random memory) launched on node A, moved with {@code POST /migrate}, verified on
 * node B (counter continued, memory checksum equal), the breakdown printed, everything removed. With
 * {@code --approach container} the service runs in a runc container from a busybox image, is moved with the
 * coordinator's runc interface, and the container's writable layer and the layer bytes are checked too.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "A real two-node migration in local mode (or, with --kubernetes, on the real cluster), printing"
        + " downtime and phase breakdown.")
public final class DemoCommand implements Callable<Integer> {
  private static final String WORKLOAD = "memservice";

  /** What the demo moves: a plain process, or the same service inside a runc container. */
  enum DemoApproach { process, container }

  @Option(names = "--approach", defaultValue = "process", paramLabel = "APPROACH",
      description = "process (default) or container (runc, image layers streamed by digest)")
  DemoApproach approach;

  @Option(names = "--json", paramLabel = "FILE",
      description = "also write {ok, downtimeMs, totalMs, checksumOk, counterContinued, overhead} to FILE"
          + " (container: plus fileKept, layerBytesSent, layerBytesSkipped)")
  Path json;

  @Option(names = "--kubernetes",
      description = "on the real cluster of ./ums cluster (UMS_CLUSTER_ID): deploy UMS from deploy/, move a pod"
          + " with POST /migrate through the coordinator's Service (kubelet checkpoint, containerd restore)")
  boolean kubernetes;

  @Option(names = "--tls",
      description = "agents' control API and coordinator over HTTPS, certificates from a throw-away CA (openssl)")
  boolean tls;

  @Option(names = "--size", hidden = true, description = "workload memory in MiB (default 256; --kubernetes: 64)")
  Integer sizeMiB;

  @Option(names = "--netns-prefix", hidden = true, defaultValue = "umsd")
  String netnsPrefix;

  @Option(names = "--port", hidden = true, defaultValue = "7000")
  int port;

  @Option(names = "--scratch-parent", hidden = true, defaultValue = "/dev/shm",
      description = "where the run's temporary directory goes (tmpfs)")
  Path scratchParent;

  private final PrintStream out = System.out;

  @Override
  public Integer call() throws IOException {
    JsonObject report;
    if (kubernetes) {
      report = new KubernetesDemo(out, sizeMiB == null ? 64 : sizeMiB).run(UmsJars.locate().home());
    } else {
      sizeMiB = sizeMiB == null ? 256 : sizeMiB;
      try (Cleanup cleanup = new Cleanup()) {
        report = demo(cleanup);
      }
    }
    if (json != null) {
      Path parent = json.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      Files.writeString(json, report.encodePrettily() + "\n");
    }
    return report.getBoolean("ok") ? 0 : 1;
  }

  private JsonObject demo(Cleanup cleanup) {
    Path scratch = Scratch.create(scratchParent, "ums-demo-", cleanup);
    Path logs = scratch.resolve("logs");
    try {
      step("building the test workload (C, gcc -static)");
      Path memservice = MemService.build(scratch.resolve("bin"));
      NetworkTestbed testbed = Testbeds.twoNodes(netnsPrefix, cleanup);
      NetworkTestbed.Node a = testbed.node(0);
      NetworkTestbed.Node b = testbed.node(1);
      step("nodes: " + a.name() + " " + a.address() + " (netns " + a.netns() + "), " + b.name() + " "
          + b.address() + " (netns " + b.netns() + ")");
      step("starting two agents and a coordinator (one random bearer token for this run: agents' control API,"
          + " coordinator API and reservations)");
      Optional<TestCertificates> pki = tls
          ? Optional.of(TestCertificates.authority(scratch.resolve("pki"), "ums-demo-ca")) : Optional.empty();
      JsonHttp http = pki.map(ca -> JsonHttp.trusting(ca.caCertificate())).orElseGet(JsonHttp::new);
      UmsCluster cluster = UmsCluster.start(testbed, UmsJars.locate(), scratch.resolve("work"), logs, cleanup,
          http, pki);
      UmsApi ums = new UmsApi(cluster, http);
      cleanup.push("remove workloads", () -> List.of(0, 1).forEach(node -> {
        try {
          ums.removeAll(node);
        } catch (RuntimeException e) {
          System.err.println("cleanup: " + e.getMessage());
        }
      }));
      step("coordinator " + cluster.coordinatorUrl() + ", agents " + cluster.agentUrl(0) + " " + cluster.agentUrl(1));
      boolean container = approach == DemoApproach.container;
      if (container) {
        step("importing the busybox base + memservice layer image on " + a.name() + ", launching " + WORKLOAD
            + " (" + sizeMiB + " MiB random memory) in a runc container that first writes /data/kept.txt");
        RuncDemoWorkload.launch(ums, 0, WORKLOAD, scratch.resolve("images"), port, sizeMiB);
      } else {
        step("launching " + WORKLOAD + " (" + sizeMiB + " MiB random memory) on " + a.name());
        ums.launch(0, WORKLOAD, List.of(memservice.toString(), String.valueOf(port), String.valueOf(sizeMiB)));
      }
      Optional<String> forcedInterface = container ? Optional.of(RuncDemoWorkload.APPROACH) : Optional.empty();
      AtomicReference<JsonObject> migrated = new AtomicReference<>(new JsonObject());
      MigrationObserver observer = new MigrationObserver(new InetSocketAddress(a.address(), port),
          new InetSocketAddress(b.address(), port), a.vethHost());
      MigrationObserver.Observation seen = observer.observe(() -> {
        step("POST /migrate " + WORKLOAD + " -> " + b.name() + forcedInterface.map(i -> " interface " + i).orElse("")
            + " (probing every millisecond)");
        JsonObject answer = ums.migrate(WORKLOAD, 1, forcedInterface);
        migrated.set(answer);
        step("migration " + answer.getString("migrationId") + " via " + answer.getString("interface") + ": "
            + answer.getJsonObject("bytes", new JsonObject()).encode() + " bytes");
        return UmsApi.overhead(answer);
      }, this::step);
      printBreakdown(seen);
      JsonObject report = new JsonObject()
          .put("ok", seen.checksumOk())
          .put("downtimeMs", round(seen.downtimeMs()))
          .put("totalMs", round(seen.totalMs()))
          .put("checksumOk", seen.checksumOk())
          .put("counterContinued", seen.counterContinued())
          .put("overhead", new JsonObject(new LinkedHashMap<>(seen.overhead())));
      if (container) {
        addContainerChecks(report, cluster, migrated.get());
      }
      out.println(report.getBoolean("ok") ? "OK" : "FAILED");
      return report;
    } catch (Exception e) {
      String message = e.getMessage() == null ? e.toString() : e.getMessage();
      System.err.println("demo FAILED: " + message);
      printLogTails(logs);
      return new JsonObject().put("ok", false).putNull("downtimeMs").putNull("totalMs").put("checksumOk", false)
          .put("counterContinued", false).put("overhead", new JsonObject()).put("error", message);
    }
  }

  private void printBreakdown(MigrationObserver.Observation seen) {
    out.println();
    out.println("UMS demo: " + sizeMiB + " MiB service moved from node-a to node-b"
        + (approach == DemoApproach.container ? " in a runc container" : ""));
    out.println("  overhead breakdown (POST /migrate answer):");
    seen.overhead().forEach((phase, ms) -> out.printf(Locale.ROOT, "    %-14s %9.1f ms%n", phase, ms));
    out.println("  seen by a client probing every millisecond:");
    out.printf(Locale.ROOT, "    %-14s %9.1f ms   (last answer on node-a -> first answer on node-b)%n",
        "downtime", seen.downtimeMs());
    out.printf(Locale.ROOT, "    %-14s %9.1f ms   (request in -> answering on node-b)%n", "end-to-end",
        seen.totalMs());
    out.printf(Locale.ROOT, "    %-14s %9.1f MiB  (sent by node-a on its link)%n", "on the wire",
        seen.wireBytes() / 1048576.0);
    out.println("  counter continued: " + yesNo(seen.counterContinued()) + ", memory checksum "
        + seen.checksumAfter() + (seen.checksumOk() ? " identical" : " DIFFERENT from " + seen.checksumBefore()));
  }

  /** The container's own checks: its writable layer moved with it; what of the image went on the wire. */
  private void addContainerChecks(JsonObject report, UmsCluster cluster, JsonObject answer) {
    JsonObject bytes = answer.getJsonObject("bytes", new JsonObject());
    long sent = bytes.getLong("layerBytesSent", 0L);
    long skipped = bytes.getLong("layerBytesSkipped", 0L);
    String destinationId = answer.getJsonObject("destination", new JsonObject()).getString("workloadId");
    boolean fileKept = destinationId != null && RuncDemoWorkload.fileKept(cluster, 1, destinationId);
    out.printf(Locale.ROOT, "    %-14s %9.1f MiB  (image layers node-b lacked)%n", "layers sent", sent / 1048576.0);
    out.printf(Locale.ROOT, "    %-14s %9.1f MiB  (image layers node-b already held)%n", "layers skipped",
        skipped / 1048576.0);
    out.println("  /data/kept.txt written in the container on node-a, and the image file it deleted: "
        + (fileKept ? "as left, on node-b" : "NOT as left on node-b"));
    report.put("ok", report.getBoolean("ok") && fileKept).put("fileKept", fileKept)
        .put("layerBytesSent", sent).put("layerBytesSkipped", skipped);
  }

  private void step(String message) {
    out.println("* " + message);
  }

  private static void printLogTails(Path logs) {
    if (!Files.isDirectory(logs)) {
      return;
    }
    try (Stream<Path> files = Files.list(logs)) {
      files.sorted().forEach(log -> System.err.println("  " + log.getFileName() + ": " + Commands.tail(log)));
    } catch (IOException ignored) {
      // nothing to show
    }
  }

  private static String yesNo(boolean value) {
    return value ? "yes" : "NO";
  }

  private static double round(double ms) {
    return Math.round(ms * 10) / 10.0;
  }
}
