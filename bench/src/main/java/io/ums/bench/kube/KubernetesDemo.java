package io.ums.bench.kube;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Locale;

/**
 * {@code ./ums demo --kubernetes}: the real cluster of {@code ./ums cluster} (brought up unless it runs), UMS
 * deployed from deploy/ (the agent DaemonSet, the coordinator Deployment under its ServiceAccount), a memory
 * service pod with a Service on node-a moved to node-b with {@code POST /migrate} through the coordinator's
 * Service (interface kubelet-consistent: the kubelet's checkpoint API, the archive streamed agent to agent, restored by
 * containerd), verified, everything removed again. Blocking.
 */
public final class KubernetesDemo {
  private static final String SOURCE_NODE = "node-a";
  private static final String DESTINATION_NODE = "node-b";
  private static final String[] PHASES = {"creation", "checkpoint", "freeze", "transfer", "restore", "podStart",
      "downtime", "total"};

  private final PrintStream out;
  private final int sizeMiB;

  public KubernetesDemo(PrintStream out, int sizeMiB) {
    this.out = out;
    this.sizeMiB = sizeMiB;
  }

  /** Runs the demo; the report's {@code ok} says whether every check held. */
  public JsonObject run(Path repo) {
    KubeCluster cluster = KubeCluster.fromEnvironment(repo);
    JsonObject report = new JsonObject().put("ok", false).put("interface", "kubelet-consistent")
        .put("clusterId", cluster.id());
    Path scratch = null;
    UmsDeployment ums = null;
    String pod = KubeCluster.uniqueName("memservice");
    try {
      scratch = Files.createTempDirectory(Path.of("/var/tmp"), "ums-kube-demo-");
      step("cluster " + cluster.id() + ": ./ums cluster up unless it runs (control plane, node-a, node-b)");
      cluster.ensureUp();
      report.put("clusterUpMs", cluster.upMillis()).put("apiServerVersion", cluster.apiServerVersion())
          .put("nodesReady", cluster.nodesReady());
      step("API server " + report.getString("apiServerVersion") + ", nodes Ready: " + report.getInteger("nodesReady")
          + (cluster.startedHere() ? ", up in " + cluster.upMillis() + " ms" : " (was running)"));
      long deployStarted = System.nanoTime();
      ums = UmsDeployment.deploy(cluster, scratch, this::step);
      report.put("deployMs", (System.nanoTime() - deployStarted) / 1_000_000);
      report.put("agentPodsReady", ums.readyAgents().size())
          .put("coordinatorReady", KubeCluster.ready(ums.coordinatorPod(), "Ready"));
      step("agents Ready " + ums.readyAgents() + ", coordinator Ready: " + report.getBoolean("coordinatorReady")
          + " (deployed in " + report.getLong("deployMs") + " ms)");
      KubeMemService memService = KubeMemService.install(cluster, scratch);
      long seed = new SecureRandom().nextLong() & Long.MAX_VALUE;
      step("pod " + pod + " on " + SOURCE_NODE + " (" + memService.image() + ", " + sizeMiB
          + " MiB random memory) and Service " + pod);
      cluster.apply(memService.pod(pod, SOURCE_NODE, sizeMiB, seed) + "---\n" + KubeMemService.service(pod, pod));
      cluster.kubectlOk("wait", "--for=condition=Ready", "pod/" + pod, "--timeout=120s");
      awaitAnswering(cluster, pod);
      step("POST /migrate {name: " + pod + ", destinationNode: " + DESTINATION_NODE
          + ", interface: kubelet-consistent} to the coordinator's Service " + ums.coordinatorServiceIp() + ":8080");
      PodMove move = PodMove.run(cluster, ums, pod, pod, DESTINATION_NODE);
      report.put("interface", move.answer().getString("interface", report.getString("interface")));
      if (move.status() != 200) {
        throw new IllegalStateException("POST /migrate answered " + move.status() + ": " + move.answer().encode());
      }
      printBreakdown(move);
      boolean ok = move.checksumOk() && move.counterContinued() && move.sourceGone() && move.serviceSwitched()
          && DESTINATION_NODE.equals(move.destinationNode()) && report.getInteger("agentPodsReady") == 2;
      report.put("ok", ok).put("checksumOk", move.checksumOk()).put("counterContinued", move.counterContinued())
          .put("sourceGone", move.sourceGone()).put("serviceSwitched", move.serviceSwitched())
          .put("migrationId", move.answer().getString("migrationId"))
          .put("destinationPod", move.destinationPod().orElse(null))
          .put("downtimeMs", move.overhead("downtime")).put("totalMs", move.overhead("total"))
          .put("requestMs", move.millis())
          .put("overhead", move.answer().getJsonObject("overhead")).put("bytes", move.answer().getJsonObject("bytes"));
      out.println(ok ? "OK" : "FAILED");
    } catch (RuntimeException | IOException e) {
      String message = e.getMessage() == null ? e.toString() : e.getMessage();
      System.err.println("demo FAILED: " + message);
      report.put("ok", false).put("error", message);
    } finally {
      cleanUp(cluster, ums, pod, scratch);
    }
    return report;
  }

  private void printBreakdown(PodMove move) {
    out.println();
    out.println("UMS demo on Kubernetes: pod moved from " + SOURCE_NODE + " to " + move.destinationNode()
        + " as " + move.destinationPod().orElse("?") + " (" + sizeMiB + " MiB)");
    out.println("  phases (POST /migrate answer, ms):");
    for (String phase : PHASES) {
      out.printf(Locale.ROOT, "    %-11s %7d%n", phase, move.overhead(phase));
    }
    out.printf(Locale.ROOT, "    %-11s %7d   (the request as curl saw it)%n", "request", move.millis());
    out.println("kubelet-consistent".equals(move.answer().getString("interface"))
        ? "  downtime = freeze + podStart: the source container stopped at its checkpoint, stayed stopped until the"
            + " destination imported the image (freeze) and pod Ready (podStart), then was deleted"
        : "  a copy: the kubelet checkpoints without stopping the source, which runs until the destination is Ready"
            + " (what it does after the checkpoint is not carried)");
    out.println("  memory checksum " + move.after().map(a -> a.checksum()).orElse("?")
        + (move.checksumOk() ? " identical" : " DIFFERENT from " + move.before().checksum())
        + "; counter " + move.before().counter() + " before -> " + move.after().map(a -> a.counter()).orElse(-1L)
        + (move.counterContinued() ? " (continued)" : " (NOT continued)"));
    out.println("  source pod gone: " + move.sourceGone() + "; Service endpoints " + move.serviceEndpoints()
        + (move.serviceSwitched() ? " = the new pod" : " (NOT the new pod)"));
  }

  /** The service fills its memory before it listens: asks until it answers, within a minute. */
  public static void awaitAnswering(KubeCluster cluster, String pod) {
    String ip = cluster.getJson("pod", pod).getJsonObject("status").getString("podIP");
    long deadline = System.currentTimeMillis() + 60_000;
    while (true) {
      try {
        KubeMemService.verify(ip);
        return;
      } catch (UncheckedIOException e) {
        if (System.currentTimeMillis() > deadline) {
          throw e;
        }
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }
  }

  private void cleanUp(KubeCluster cluster, UmsDeployment ums, String pod, Path scratch) {
    try {
      if (cluster.startedHere()) {
        step("./ums cluster down");
        cluster.downIfStartedHere();
      } else {
        step("removing the demo's pods and Service, and UMS (the cluster was running before: it stays up)");
        cluster.kubectl("delete", "pod,service", "-l", "app=" + pod, "--ignore-not-found", "--wait=false");
        cluster.kubectl("delete", "service", pod, "--ignore-not-found");
        if (ums != null) {
          ums.remove();
        }
      }
    } catch (RuntimeException e) {
      System.err.println("cleanup: " + e.getMessage());
    }
    if (scratch != null) {
      try (var files = Files.walk(scratch)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(file -> file.toFile().delete());
      } catch (IOException e) {
        System.err.println("cleanup: " + e.getMessage());
      }
    }
  }

  private void step(String message) {
    out.println("* " + message);
  }
}
