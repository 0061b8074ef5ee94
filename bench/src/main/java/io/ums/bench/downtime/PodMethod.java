package io.ums.bench.downtime;

import io.ums.bench.kube.KubeCluster;
import io.ums.bench.kube.KubeMemService;
import io.ums.bench.kube.KubernetesDemo;
import io.ums.bench.kube.PodMove;
import io.ums.bench.kube.ServiceReadiness;
import io.ums.bench.kube.UmsDeployment;
import io.ums.bench.local.Cleanup;
import io.ums.bench.local.UmsApi;
import io.ums.bench.local.UmsJars;
import io.ums.bench.probe.ServiceProbeProcess;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code ums-pod} ({@code --approach pod}): the same memservice (same size, same seed, so the same memory) as a pod
 * on node-a of the real cluster of {@code ./ums cluster} ({@code UMS_CLUSTER_ID}; brought up unless it runs, and
 * then taken down at the end), with UMS deployed from deploy/ (built images, the agent DaemonSet, the coordinator
 * Deployment), moved to node-b with {@code POST /migrate} interface kubelet-consistent through the coordinator's
 * Service. Downtime is what a client saw through the pod's Service: a {@link ServiceProbeProcess} in node-a's
 * network namespace asks every millisecond through the cluster IP, and the longest pause between two answers
 * during the move is the row's downtime; total is the move's start to the first answer after that pause; the
 * overhead is the POST /migrate answer's. Verified: memory checksum identical and counter continued (at the pods'
 * IPs, and through the Service across the pause).
 */
final class PodMethod implements MigrationMethod {
  static final String NAME = "ums-pod";
  private static final String SOURCE = "node-a";
  private static final String DESTINATION = "node-b";
  private static final Duration WAIT = Duration.ofMinutes(3);

  private final Cleanup cleanup;
  private KubeCluster cluster;
  private UmsDeployment ums;
  private KubeMemService memService;
  private RuntimeException setupFailure;

  PodMethod(Cleanup cleanup) {
    this.cleanup = cleanup;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public ResultRow run(Scenario scenario, BenchContext context) throws Exception {
    if (scenario.compressible()) {
      throw new IllegalArgumentException(NAME + " runs random memory only (the pod takes no compressible share)");
    }
    if (!"unlimited".equals(scenario.link())) {
      throw new IllegalArgumentException(NAME + " cannot limit the cluster's links: run it on --link unlimited");
    }
    setUp(context);
    String app = KubeCluster.uniqueName("bench-mem");
    long seed = Long.parseLong(scenario.workloadArgs().get(1));
    Path probeLog = context.diskScratch().resolve(app + "-probe.err");
    try {
      context.progress().phase("pod " + app + " on " + SOURCE + " and its Service");
      cluster.apply(memService.pod(app, SOURCE, scenario.sizeMiB(), seed) + "---\n"
          + KubeMemService.service(app, app));
      cluster.kubectlOk("wait", "--for=condition=Ready", "pod/" + app, "--timeout=" + WAIT.toSeconds() + "s");
      KubernetesDemo.awaitAnswering(cluster, app);
      String podIp = cluster.getJson("pod", app).getJsonObject("status").getString("podIP");
      context.progress().phase("waiting until the Service answers through its cluster IP on " + SOURCE);
      String clusterIp = ServiceReadiness.await(cluster, app, podIp, SOURCE, WAIT);
      try (ServiceProbeProcess probe = ServiceProbeProcess.start(cluster.netns(SOURCE), clusterIp,
          KubeMemService.PORT, probeLog)) {
        if (!probe.awaitAnswers(500, Duration.ofSeconds(60))) {
          throw new IllegalStateException("the Service probe got no answers through " + clusterIp + " ("
              + Files.readString(probeLog).strip() + ")");
        }
        context.progress().phase("POST /migrate interface kubelet-consistent to " + DESTINATION);
        long startEpochMs = System.currentTimeMillis();
        PodMove move = PodMove.run(cluster, ums, app, app, DESTINATION);
        long endEpochMs = System.currentTimeMillis();
        if (move.status() != 200) {
          throw new IllegalStateException("POST /migrate answered " + move.status() + ": " + move.answer().encode());
        }
        context.progress().phase("waiting for the destination to answer through the Service");
        boolean answered = probe.awaitAnswerAfter(endEpochMs, Duration.ofSeconds(60));
        ServiceProbeProcess.Seen seen = probe.stop();
        if (!answered) {
          throw new IllegalStateException("moved, but no answer through the Service within 60 s after the move;"
              + " endpoints " + move.serviceEndpoints() + "\n" + cluster.serviceDiagnostics(app, SOURCE));
        }
        ServiceProbeProcess.Gap pause = seen.longestWithin(startEpochMs, endEpochMs).orElseThrow(() ->
            new IllegalStateException("the Service probe saw no pause during the move (" + seen.answers()
                + " answers): it cannot have reached the stopped source"));
        boolean counterContinued = move.counterContinued() && pause.counterAfter() >= pause.counterBefore();
        Map<String, Double> measures = new LinkedHashMap<>();
        measures.put("requestMs", (double) move.millis());
        measures.put("probeAnswers", (double) seen.answers());
        measures.put("bytes", move.answer().getJsonObject("bytes", new io.vertx.core.json.JsonObject())
            .getLong("wire", -1L).doubleValue());
        System.err.printf("%s %s: client-seen pause %.0f ms (counter %d -> %d), answer's downtime %d ms, request"
            + " %d ms%n", NAME, scenario, pause.ms(), pause.counterBefore(), pause.counterAfter(),
            move.overhead("downtime"), move.millis());
        return new ResultRow(NAME, scenario.sizeMiB(), scenario.link(), scenario.memory(), scenario.run(),
            pause.ms(), (double) (pause.toEpochMs() - startEpochMs), null,
            move.checksumOk() && counterContinued && move.sourceGone(), counterContinued,
            UmsApi.overhead(move.answer()), null, measures);
      }
    } finally {
      cluster.kubectl("delete", "pod", "-l", "app=" + app, "--ignore-not-found", "--wait=true", "--timeout=120s");
      cluster.kubectl("delete", "service", app, "--ignore-not-found");
    }
  }

  /** The cluster, UMS on it and the memservice image, once per bench; a failure fails every row with it. */
  private void setUp(BenchContext context) {
    if (setupFailure != null) {
      throw setupFailure;
    }
    if (ums != null) {
      return;
    }
    try {
      cluster = KubeCluster.fromEnvironment(UmsJars.locate().home());
      context.progress().phase("cluster " + cluster.id() + ": ./ums cluster up unless it runs");
      cluster.ensureUp();
      KubeCluster started = cluster;
      Path scratch = Files.createDirectories(context.diskScratch().resolve("kube"));
      cleanup.push("UMS on cluster " + cluster.id(), () -> {
        if (started.startedHere()) {
          started.downIfStartedHere();
        } else if (ums != null) {
          ums.remove();
        }
      });
      ums = UmsDeployment.deploy(cluster, scratch, step -> context.progress().phase(step));
      memService = KubeMemService.install(cluster, scratch);
    } catch (IOException e) {
      setupFailure = new UncheckedIOException(e);
      throw setupFailure;
    } catch (RuntimeException e) {
      setupFailure = e;
      throw e;
    }
  }
}
