package io.ums.bench.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * UMS deployed on a REAL Kubernetes cluster and a pod moved with {@code POST /migrate}. Real parts: the cluster
 * of {@code ./ums cluster up} (etcd, kube-apiserver with Node,RBAC, controller-manager, scheduler; node-a and
 * node-b each with containerd 2.2 + runc + CRIU, kubelet, kube-proxy), the agent and coordinator images built
 * by scripts/build-images.sh (podman) and imported into the nodes' containerd, deploy/daemonset.yml and
 * deploy/coordinator.yml applied unchanged but for image names and pull policy (the coordinator runs under its
 * ServiceAccount with exactly the manifest's ClusterRole), the C memory service in a pod. The migration goes
 * through the coordinator's Service (curl in node-a's network namespace, kube-proxy), the source node's
 * kubelet checkpoint API, the agents' data plane, the destination agent's ctr import into node-b's containerd,
 * and containerd's restore from the checkpoint image. Uses the running cluster of UMS_CLUSTER_ID or brings one
 * up for the class (and down after).
 */
@Tag("slow")
@Tag("k8s")
class KubernetesDeploymentTest {
  private static final int MIB = 32;
  private static final Duration WAIT = Duration.ofSeconds(120);

  private static KubeCluster cluster;
  private static UmsDeployment ums;
  private static KubeMemService memService;
  private static Path scratch;

  private final List<String> created = new ArrayList<>();

  @BeforeAll
  static void deploy() throws IOException {
    cluster = KubeCluster.fromEnvironment(Path.of("").toAbsolutePath().getParent());
    cluster.ensureUp();
    scratch = Files.createTempDirectory(Path.of("/var/tmp"), "ums-kube-test-");
    ums = UmsDeployment.deploy(cluster, scratch, step -> System.out.println("[k8s] " + step));
    memService = KubeMemService.install(cluster, scratch);
  }

  @AfterAll
  static void undeploy() throws IOException {
    try {
      if (cluster != null && cluster.startedHere()) {
        cluster.downIfStartedHere();
      } else if (ums != null) {
        ums.remove();
      }
    } finally {
      if (scratch != null) {
        try (var files = Files.walk(scratch)) {
          files.sorted(Comparator.reverseOrder()).forEach(file -> file.toFile().delete());
        }
      }
    }
  }

  @AfterEach
  void removeWorkloads() {
    for (String app : created) {
      cluster.kubectl("delete", "replicaset,pod,service", "-l", "app=" + app, "--ignore-not-found", "--wait=true",
          "--timeout=60s");
      cluster.kubectl("delete", "service", app, "--ignore-not-found");
    }
  }

  @Test
  void theAgentDaemonSetAndTheCoordinatorRunUnderTheirOwnServiceAccounts() {
    assertThat(ums.readyAgents().keySet()).as("agent pods Ready").containsExactlyElementsOf(KubeCluster.NODES);
    JsonObject coordinator = ums.coordinatorPod();
    assertThat(KubeCluster.ready(coordinator, "Ready")).as("coordinator Ready").isTrue();
    assertThat(coordinator.getJsonObject("spec").getString("serviceAccountName")).isEqualTo("ums-coordinator");

    String coordinatorAccount = "--as=system:serviceaccount:ums-system:ums-coordinator";
    assertThat(canI(coordinatorAccount, "update", "pods")).isTrue();
    assertThat(canI(coordinatorAccount, "patch", "services")).isTrue();
    assertThat(canI(coordinatorAccount, "get", "secrets")).as("no more than the manifest's ClusterRole").isFalse();
    assertThat(canI(coordinatorAccount, "create", "nodes", "--subresource=checkpoint")).isFalse();
    String agentAccount = "--as=system:serviceaccount:ums-system:ums-agent";
    assertThat(canI(agentAccount, "create", "nodes", "--subresource=checkpoint")).isTrue();
    assertThat(canI(agentAccount, "get", "pods")).as("the agent never calls the API server").isFalse();

    KubeCommands.Result health = cluster.inNode("node-b", Duration.ofSeconds(30), List.of("curl", "-sS",
        "--max-time", "10", "http://" + ums.coordinatorServiceIp() + ":8080/healthcheck"));
    assertThat(health.ok()).as("coordinator answers through its Service from node-b: %s", health.output()).isTrue();
  }

  @Test
  void aPodMovesToTheOtherNodeWithPostMigrateThroughTheCoordinatorsService() throws IOException {
    String app = workload();
    cluster.apply(memService.pod(app, "node-a", MIB, seed()) + "---\n" + KubeMemService.service(app, app));
    awaitServing(app);
    long restoredBefore = restoredContainers("node-b");

    PodMove move = PodMove.run(cluster, ums, app, app, "node-b");

    assertThat(move.status()).as("POST /migrate answer: %s", move.answer()).isEqualTo(200);
    assertThat(move.answer().getString("interface")).isEqualTo("kubelet-consistent");
    assertThat(move.destinationNode()).isEqualTo("node-b");
    assertThat(move.checksumOk()).as("memory checksum %s -> %s", move.before(), move.after()).isTrue();
    assertThat(move.counterContinued()).as("counter %s -> %s", move.before(), move.after()).isTrue();
    assertThat(move.sourceGone()).as("source pod deleted").isTrue();
    assertThat(move.serviceSwitched()).as("Service endpoints %s", move.serviceEndpoints()).isTrue();
    JsonObject moved = cluster.getJson("pod", move.destinationPod().orElseThrow());
    assertThat(moved.getJsonObject("status").getJsonArray("containerStatuses").getJsonObject(0)
        .getInteger("restartCount")).as("restored once, never restarted").isZero();
    JsonObject labels = moved.getJsonObject("metadata").getJsonObject("labels");
    assertThat(labels.getString("app")).isEqualTo(app);
    assertThat(labels.containsKey("ums.io/destination-of")).as("settled: no destination marker left").isFalse();
    assertThat(restoredContainers("node-b")).as("containerd on node-b logged a restore from a checkpoint")
        .isGreaterThan(restoredBefore);
    assertThat(cluster.checkpointArchives("node-a", app)).as("the source agent deleted the kubelet's archive")
        .isEmpty();
    String checkpointImage = moved.getJsonObject("spec").getJsonArray("containers").getJsonObject(0)
        .getString("image");
    assertThat(checkpointImage).startsWith("localhost/ums-checkpoint/");
    await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(imageId("node-b", checkpointImage))
        .as("the coordinator had the checkpoint image retired: its name now starts the service's own image")
        .isEqualTo(imageId("node-b", memService.image())));
  }

  /** The id of the image named {@code name} in a node's containerd, as the CRI lists it; empty without one. */
  private static String imageId(String node, String name) {
    JsonArray images = new JsonObject(cluster.crictl(node, "images", "-o", "json").output())
        .getJsonArray("images", new JsonArray());
    for (Object image : images) {
      JsonObject json = (JsonObject) image;
      if (json.getJsonArray("repoTags", new JsonArray()).contains(name)) {
        return json.getString("id");
      }
    }
    return "";
  }

  @Test
  void aReplicaSetsPodMovesAndTheReplicaSetKeepsTheMovedPod() {
    String app = workload();
    cluster.apply(memService.replicaSet(app, "node-a", MIB, seed()) + "---\n" + KubeMemService.service(app, app));
    String source = awaitServing(app);

    PodMove move = PodMove.run(cluster, ums, source, app, "node-b");

    assertThat(move.status()).as("POST /migrate answer: %s", move.answer()).isEqualTo(200);
    assertThat(move.checksumOk() && move.counterContinued()).as("%s -> %s", move.before(), move.after()).isTrue();
    assertThat(move.sourceGone()).isTrue();
    assertThat(move.serviceSwitched()).as("Service endpoints %s", move.serviceEndpoints()).isTrue();
    await().atMost(WAIT).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
      JsonArray pods = cluster.getJson("pods", "-l", "app=" + app).getJsonArray("items");
      assertThat(pods).as("one pod of the ReplicaSet: the moved one").hasSize(1);
      JsonObject meta = pods.getJsonObject(0).getJsonObject("metadata");
      assertThat(meta.getString("name")).isEqualTo(move.destinationPod().orElseThrow());
      assertThat(meta.getJsonArray("ownerReferences").getJsonObject(0).getString("name")).isEqualTo(app);
      assertThat(cluster.getJson("replicaset", app).getJsonObject("status").getInteger("readyReplicas", 0))
          .isEqualTo(1);
    });
  }

  @Test
  void aDestinationPodThatCannotStartIsRemovedAndTheSourceKeepsRunning() {
    String app = workload();
    cluster.apply(memService.pod(app, "node-a", MIB, seed()));
    awaitServing(app);
    String uid = cluster.getJson("pod", app).getJsonObject("metadata").getString("uid");
    // containerd restores on top of the checkpoint's root file system image; without it on node-b, the
    // destination container cannot be created (the kubelet reports CreateContainerError)
    assertThat(cluster.crictl("node-b", "rmi", memService.image()).ok()).isTrue();
    try {
      PodMove move = PodMove.run(cluster, ums, app, null, "node-b");

      assertThat(move.status()).as("answer: %s", move.answer()).isEqualTo(502);
      assertThat(move.answer().getString("message")).contains("cannot start", "CreateContainerError");
      JsonObject source = cluster.getJson("pod", app);
      assertThat(source.getJsonObject("metadata").getString("uid")).as("the same source pod").isEqualTo(uid);
      assertThat(source.getJsonObject("metadata").getJsonObject("annotations", new JsonObject()).fieldNames())
          .as("lock released").noneMatch(key -> key.startsWith("ums.io/migration"));
      await().atMost(WAIT).pollInterval(Duration.ofMillis(500)).untilAsserted(() ->
          assertThat(cluster.getJson("pods", "-A", "-l", "ums.io/destination-of").getJsonArray("items"))
              .as("destination pod removed").isEmpty());
      String ip = source.getJsonObject("status").getString("podIP");
      assertThat(KubeMemService.verify(ip).checksum()).isEqualTo(move.before().checksum());
      assertThat(KubeMemService.verify(ip).counter()).isGreaterThan(move.before().counter());
    } finally {
      memService.reimport(cluster);
    }
  }

  /**
   * A client connection open at the checkpoint: the nodes' CRIU configuration for runc says tcp-close
   * (scripts/cluster-nodes.sh; without it CRIU refuses, "Connected TCP socket"), so the kubelet checkpoints the
   * container, the pod moves, and the connection ends with the source (the destination restores it closed, the
   * stopped source never answers it again); a new connection reaches the moved pod, memory and counter carried.
   */
  @Test
  void aPodWithAnOpenClientConnectionMovesAndTheConnectionEndsWithTheSource() throws Exception {
    String app = workload();
    cluster.apply(memService.pod(app, "node-a", MIB, seed()));
    awaitServing(app);
    try (Socket client = new Socket(podIp(app), KubeMemService.PORT)) {
      client.setSoTimeout(10_000);
      BufferedReader in = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.US_ASCII));
      client.getOutputStream().write("c\n".getBytes(StandardCharsets.US_ASCII));
      long before = Long.parseLong(in.readLine().split(" ")[0]);

      PodMove move = PodMove.run(cluster, ums, app, null, "node-b");
      System.out.println("[k8s] with a connection open: " + move.status() + " " + move.answer().encode());

      assertThat(move.status()).as("answer: %s", move.answer()).isEqualTo(200);
      assertThat(move.checksumOk()).as("memory checksum %s -> %s", move.before(), move.after()).isTrue();
      assertThat(move.after().orElseThrow().counter()).as("counter went on").isGreaterThan(before);
      assertThat(move.sourceGone()).isTrue();
      String ended;
      try {
        client.getOutputStream().write("c\n".getBytes(StandardCharsets.US_ASCII));
        String line = in.readLine();
        ended = line == null ? "end of stream" : null;
        assertThat(line).as("the source answered after its checkpoint").isNull();
      } catch (java.net.SocketTimeoutException stillOpen) {
        throw new AssertionError("the connection to the deleted source pod is still open", stillOpen);
      } catch (IOException reset) {
        ended = reset.getMessage();
      }
      System.out.println("[k8s] the client's connection to the source ended: " + ended);
    }
  }

  /**
   * Issue 13's consistency check on the deployed cluster: a client in node-a's network namespace writes keys
   * (the memory service's in-memory key set, each acknowledged only once applied) through the pod's Service,
   * one at a time, retrying a write that got no acknowledgement on a new connection, while the pod moves to
   * node-b with POST /migrate (kubelet-consistent). Every acknowledged write is at the destination (read back
   * through the Service), the counter in the answers never goes back (the first value the destination answers is
   * at least the last the source answered), and the kubelet on node-a never restarted the stopped container.
   */
  @Test
  void everyWriteAcknowledgedDuringTheMoveIsAtTheDestination() throws Exception {
    String app = workload();
    // -Dums.kube.writesMib=256: the pod's size for a downtime figure (the client's longest pause)
    int mib = Integer.getInteger("ums.kube.writesMib", MIB);
    cluster.apply(memService.pod(app, "node-a", mib, seed()) + "---\n" + KubeMemService.service(app, app));
    awaitServing(app);
    // the pod answering at its own IP is not enough: the writer's first connection must not leave before node-a's
    // kube-proxy has programmed the Service (see ServiceReadiness; bash's connect has no timeout)
    String serviceIp = ServiceReadiness.await(cluster, app, podIp(app), "node-a", WAIT);
    Path stop = scratch.resolve("stop-" + app);
    Path writerLog = scratch.resolve("writer-" + app + ".log");
    String overhead = "";
    CompletableFuture<KubeCommands.Result> writer = CompletableFuture.supplyAsync(() -> cluster.inNode("node-a",
        Duration.ofMinutes(8), List.of("bash", "-c", WRITER, "writer", serviceIp, String.valueOf(KubeMemService.PORT),
            stop.toString(), writerLog.toString())));
    try {
      awaitOrExplain("the writer's first 200 acknowledged keys through the Service, before the move", app,
          writerLog, () -> keys(podIp(app)) >= 200 || writer.isDone());
      PodMove move = PodMove.run(cluster, ums, app, app, "node-b");
      assertThat(move.status()).as("POST /migrate answer: %s", move.answer()).isEqualTo(200);
      overhead = move.answer().getJsonObject("overhead").encode();
      String destinationIp = move.destinationIp().orElseThrow();
      long atSwitch = keys(destinationIp);
      awaitOrExplain("200 more acknowledged keys at the destination after the move", app, writerLog,
          () -> keys(destinationIp) >= atSwitch + 200 || writer.isDone());
    } finally {
      Files.writeString(stop, "stop");
    }
    KubeCommands.Result written = writer.get(3, TimeUnit.MINUTES);
    String writerOutput = Files.readString(writerLog);
    assertThat(written.ok()).as("writer: %s %s", written.output(), tail(writerOutput)).isTrue();
    List<long[]> acks = new ArrayList<>();
    long errors = 0;
    for (String line : writerOutput.split("\n")) {
      String[] parts = line.strip().split(" ");
      if (parts[0].equals("ack")) {
        acks.add(new long[] {Long.parseLong(parts[1]), Long.parseLong(parts[2]),
            Math.round(Double.parseDouble(parts[3]) * 1000)});
      } else if (parts[0].equals("error")) {
        errors++;
      }
    }
    // the switch: the longest pause between two acknowledgements on the client's clock (the pod's counter does
    // not measure it: CRIU restores the monotonic clock from where the dump left it)
    long lastBeforeSwitch = -1;
    long firstAfterSwitch = -1;
    long pauseMs = -1;
    for (int i = 1; i < acks.size(); i++) {
      assertThat(acks.get(i)[1]).as("counter of write %d after write %d: never back", acks.get(i)[0],
          acks.get(i - 1)[0]).isGreaterThanOrEqualTo(acks.get(i - 1)[1]);
      if (acks.get(i)[2] - acks.get(i - 1)[2] > pauseMs) {
        pauseMs = acks.get(i)[2] - acks.get(i - 1)[2];
        lastBeforeSwitch = acks.get(i - 1)[1];
        firstAfterSwitch = acks.get(i)[1];
      }
    }
    String keyList = acks.stream().map(ack -> Long.toString(ack[0])).collect(java.util.stream.Collectors.joining(" "));
    Path keysFile = scratch.resolve("keys-" + app);
    Files.writeString(keysFile, keyList);
    KubeCommands.Result readBack = cluster.inNode("node-a", Duration.ofMinutes(5), List.of("bash", "-c", READER,
        "reader", serviceIp, String.valueOf(KubeMemService.PORT), keysFile.toString()));
    assertThat(readBack.ok()).as("reader: %s", tail(readBack.output())).isTrue();
    List<String> missing = readBack.output().lines().filter(line -> line.startsWith("missing")).toList();
    long found = readBack.output().lines().filter(line -> line.startsWith("found")).count();
    System.out.printf("[k8s] %d MiB pod: writes acknowledged %d, found at the destination %d, missing %d, client"
        + " errors/retries %d; longest pause between two acknowledgements %d ms (client's clock), counter %d before it,"
        + " %d after; POST /migrate overhead %s%n", mib, acks.size(), found, missing.size(), errors, pauseMs,
        lastBeforeSwitch, firstAfterSwitch, overhead);
    assertThat(acks).as("writes acknowledged").hasSizeGreaterThan(400);
    assertThat(missing).as("acknowledged writes missing at the destination").isEmpty();
    assertThat(found).isEqualTo(acks.size());
    assertThat(errors).as("the client saw the switch (unanswered writes, retried)").isPositive();
    KubeCommands.Result sourceContainers = cluster.crictl("node-a", "ps", "-a", "-o", "json", "--label",
        "io.kubernetes.pod.name=" + app);
    assertThat(new JsonObject(sourceContainers.output()).getJsonArray("containers", new JsonArray()).stream()
        .map(JsonObject.class::cast).map(c -> c.getJsonObject("metadata").getInteger("attempt", 0)).toList())
        .as("the kubelet on node-a never restarted the stopped source container").allMatch(attempt -> attempt == 0);
  }

  /**
   * The writer's precondition, checked on its own (the flake of everyWriteAcknowledged...: its writer once made no
   * progress for 2 minutes before the move): once {@link ServiceReadiness} returns, node-a's kube-proxy has the
   * Service's DNAT rule and a new connection through the cluster IP is answered at once. A pod that is Ready and
   * answers at its own IP is not enough (on this cluster, in about half the tries node-a still had only the "has no
   * endpoints" REJECT rule or no rule at all then), so each round would fail with the older wait alone.
   */
  @Test
  void aServiceIsProgrammedOnTheNodeOnceServiceReadinessSaysItAnswers() {
    for (int round = 1; round <= 5; round++) {
      String app = workload();
      cluster.apply(memService.pod(app, "node-a", 0, seed()) + "---\n" + KubeMemService.service(app, app));
      awaitServing(app);
      String clusterIp = ServiceReadiness.await(cluster, app, podIp(app), "node-a", WAIT);

      String rules = cluster.inNode("node-a", Duration.ofSeconds(30), List.of("iptables-save", "-t", "nat")).output();
      assertThat(rules.lines().filter(line -> line.contains("-d " + clusterIp + "/32") && line.contains("KUBE-SVC-")))
          .as("round %d: node-a's kube-proxy DNATs %s\n%s", round, clusterIp,
              cluster.serviceDiagnostics(app, "node-a")).isNotEmpty();
      KubeCommands.Result fresh = cluster.inNode("node-a", Duration.ofSeconds(10), List.of("timeout", "3", "bash",
          "-c", "exec 3<>/dev/tcp/$0/$1 && printf 'c\\n' >&3 && read -r -t 2 counter word <&3 && echo $counter",
          clusterIp, String.valueOf(KubeMemService.PORT)));
      assertThat(fresh.ok()).as("round %d: a new connection through %s answered: %s", round, clusterIp,
          fresh.output()).isTrue();
    }
  }

  /**
   * Writes keys 1, 2, ... through host:port, one at a time ("p K" answered "<counter> ok" once applied), until
   * the stop file exists; a write without an answer within 2 s is retried on a new connection. Writes
   * "ack K COUNTER WALLTIME" (seconds, the client's clock) and "error K" to the log file (4th argument), which the
   * test reads while the writer runs when it has to explain a failure.
   */
  private static final String WRITER = """
      host=$1 port=$2 stop=$3 key=1 connected=0
      exec >"$4"
      while [ ! -e "$stop" ]; do
        if [ $connected = 0 ]; then
          if exec 3<>"/dev/tcp/$host/$port"; then connected=1; else echo "error $key connect"; sleep 0.1; continue; fi
        fi
        counter= word=
        if printf 'p %d\\n' "$key" >&3 && read -r -t 2 counter word <&3 && [ "$word" = ok ]; then
          echo "ack $key $counter $EPOCHREALTIME"
          key=$((key + 1))
        else
          echo "error $key"
          exec 3<&- 3>&-
          connected=0
        fi
      done 2>/dev/null
      echo done
      """;

  /** Asks host:port for every key in the file ("h K"): prints "found K" or "missing K". */
  private static final String READER = """
      exec 3<>"/dev/tcp/$1/$2" || exit 1
      for key in $(cat "$3"); do
        printf 'h %d\\n' "$key" >&3
        read -r -t 10 counter present <&3 || { echo "error no answer for $key"; exit 1; }
        if [ "$present" = 1 ]; then echo "found $key"; else echo "missing $key"; fi
      done
      """;

  /** The number of keys in the memory service's key set at a pod's IP. */
  private static long keys(String podIp) {
    try (Socket socket = new Socket(podIp, KubeMemService.PORT)) {
      socket.setSoTimeout(5_000);
      socket.getOutputStream().write("n\n".getBytes(StandardCharsets.US_ASCII));
      String line = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII))
          .readLine();
      return line == null ? -1 : Long.parseLong(line.strip().split(" ")[1]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /**
   * Awaits {@code condition} (within {@link #WAIT}); when it does not come, fails with what the writer did (its
   * log so far) and what the Service path on node-a looked like (endpoints, kube-proxy's rules, conntrack).
   */
  private static void awaitOrExplain(String what, String app, Path writerLog,
      java.util.concurrent.Callable<Boolean> condition) throws IOException {
    try {
      await().atMost(WAIT).pollInterval(Duration.ofMillis(200)).until(condition);
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      String log = Files.exists(writerLog) ? Files.readString(writerLog) : "";
      long acks = log.lines().filter(line -> line.startsWith("ack")).count();
      long errors = log.lines().filter(line -> line.startsWith("error")).count();
      String keysNow;
      try {
        keysNow = String.valueOf(keys(podIp(app)));
      } catch (RuntimeException gone) {
        keysNow = "unknown (" + gone.getMessage() + ")";
      }
      throw new AssertionError("no " + what + " within " + WAIT.toSeconds() + " s; keys at the pod now "
          + keysNow + "; writer: " + acks + " acknowledged, " + errors + " errors, its last lines:\n"
          + tail(log) + "\n" + cluster.serviceDiagnostics(app, "node-a"), e);
    }
  }

  private static String tail(String output) {
    return output.length() > 2_000 ? output.substring(output.length() - 2_000) : output;
  }

  /**
   * The coordinator's pod is killed while a migration runs (once the source pod carries the lock); the
   * Deployment starts another, which settles what the pods say: the workload runs exactly once, on either node,
   * with its memory, and no lock or destination marker is left.
   */
  @Test
  void aCoordinatorKilledMidMigrationIsReplacedAndTheNewOneSettlesIt() throws Exception {
    String app = workload();
    // 128 MiB: a checkpoint, transfer and import long enough to kill the coordinator in the middle
    cluster.apply(memService.pod(app, "node-a", 128, seed()));
    awaitServing(app);
    String oldCoordinator = ums.coordinatorPod().getJsonObject("metadata").getString("name");
    String checksum = KubeMemService.verify(podIp(app)).checksum();

    CompletableFuture<PodMove> move = CompletableFuture.supplyAsync(() -> PodMove.run(cluster, ums, app, null,
        "node-b"));
    await().atMost(WAIT).pollInterval(Duration.ofMillis(100)).until(() -> locked(app) || move.isDone());
    boolean killedMidway = !move.isDone();
    cluster.kubectlOk("-n", UmsDeployment.NAMESPACE, "delete", "pod", oldCoordinator, "--grace-period=0", "--force");
    System.out.println("[k8s] coordinator " + oldCoordinator + " killed " + (killedMidway ? "mid-migration"
        : "after the migration had ended"));
    try {
      move.get(6, TimeUnit.MINUTES);
    } catch (ExecutionException expected) {
      // the request's connection went with the coordinator
    }

    cluster.kubectlOk("-n", UmsDeployment.NAMESPACE, "rollout", "status", "deployment/ums-coordinator",
        "--timeout=180s");
    await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
      JsonArray pods = cluster.getJson("pods", "-l", "app=" + app).getJsonArray("items");
      assertThat(pods).as("the workload runs exactly once").hasSize(1);
      JsonObject meta = pods.getJsonObject(0).getJsonObject("metadata");
      assertThat(meta.getJsonObject("annotations", new JsonObject()).fieldNames()).as("lock released")
          .noneMatch(key -> key.startsWith("ums.io/migration"));
      assertThat(meta.getJsonObject("labels").containsKey("ums.io/destination-of")).as("settled").isFalse();
      assertThat(KubeCluster.ready(pods.getJsonObject(0), "Ready")).isTrue();
    });
    JsonObject survivor = cluster.getJson("pods", "-l", "app=" + app).getJsonArray("items").getJsonObject(0);
    System.out.println("[k8s] settled by the new coordinator: " + survivor.getJsonObject("metadata").getString("name")
        + " on " + survivor.getJsonObject("spec").getString("nodeName"));
    assertThat(KubeMemService.verify(survivor.getJsonObject("status").getString("podIP")).checksum())
        .isEqualTo(checksum);
    assertThat(ums.coordinatorPod().getJsonObject("metadata").getString("name")).isNotEqualTo(oldCoordinator);
    assertThat(killedMidway).as("the coordinator was killed while the migration ran").isTrue();
  }

  /**
   * A rolling update of the agent DaemonSet ({@code kubectl rollout restart}) while a migration runs: the old
   * agents drain (deploy/daemonset.yml: maxSurge 0, SIGTERM, grace period) before the new ones start, so the
   * migration either completes or is rolled back, and the workload runs exactly once with its memory.
   */
  @Test
  void aRollingUpdateOfTheAgentsDrainsAMigrationInFlight() throws Exception {
    String app = workload();
    cluster.apply(memService.pod(app, "node-a", 128, seed()));
    awaitServing(app);
    String checksum = KubeMemService.verify(podIp(app)).checksum();
    String revision = cluster.getJson("daemonset", "-n", UmsDeployment.NAMESPACE, "ums-agent")
        .getJsonObject("metadata").getInteger("generation").toString();

    CompletableFuture<PodMove> move = CompletableFuture.supplyAsync(() -> PodMove.run(cluster, ums, app, null,
        "node-b"));
    await().atMost(WAIT).pollInterval(Duration.ofMillis(100)).until(() -> locked(app) || move.isDone());
    boolean updatedMidway = !move.isDone();
    cluster.kubectlOk("-n", UmsDeployment.NAMESPACE, "rollout", "restart", "daemonset/ums-agent");
    PodMove result = move.get(6, TimeUnit.MINUTES);
    System.out.println("[k8s] migration during the agents' rolling update answered " + result.status() + ": "
        + result.answer().encode());

    cluster.kubectlOk("-n", UmsDeployment.NAMESPACE, "rollout", "status", "daemonset/ums-agent", "--timeout=300s");
    assertThat(cluster.getJson("daemonset", "-n", UmsDeployment.NAMESPACE, "ums-agent").getJsonObject("metadata")
        .getInteger("generation").toString()).isNotEqualTo(revision);
    await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
      assertThat(ums.readyAgents().keySet()).containsExactlyElementsOf(KubeCluster.NODES);
      JsonArray pods = cluster.getJson("pods", "-l", "app=" + app).getJsonArray("items");
      assertThat(pods).as("the workload runs exactly once").hasSize(1);
      JsonObject meta = pods.getJsonObject(0).getJsonObject("metadata");
      assertThat(meta.getJsonObject("annotations", new JsonObject()).fieldNames()).as("lock released")
          .noneMatch(key -> key.startsWith("ums.io/migration"));
      assertThat(meta.getJsonObject("labels").containsKey("ums.io/destination-of")).as("settled").isFalse();
    });
    JsonObject survivor = cluster.getJson("pods", "-l", "app=" + app).getJsonArray("items").getJsonObject(0);
    assertThat(KubeMemService.verify(survivor.getJsonObject("status").getString("podIP")).checksum())
        .isEqualTo(checksum);
    assertThat(result.status()).as("completed, or refused/rolled back with a reason: %s", result.answer())
        .isIn(200, 502, 503);
    if (result.status() == 200) {
      assertThat(survivor.getJsonObject("spec").getString("nodeName")).isEqualTo("node-b");
    }
    assertThat(updatedMidway).as("the rolling update began while the migration ran").isTrue();
  }

  private static boolean locked(String pod) {
    KubeCommands.Result result = cluster.kubectl("get", "pod", pod, "-o",
        "jsonpath={.metadata.annotations.ums\\.io/migration-id}");
    return result.ok() && !result.output().isBlank();
  }

  private static String podIp(String pod) {
    return cluster.getJson("pod", pod).getJsonObject("status").getString("podIP");
  }

  private String workload() {
    String app = KubeCluster.uniqueName("ums-mem");
    created.add(app);
    return app;
  }

  /** Waits for the app's pod to be Ready and its service to answer; returns the pod's name. */
  private static String awaitServing(String app) {
    String pod = await().atMost(WAIT).pollInterval(Duration.ofMillis(500)).until(() -> {
      JsonArray pods = cluster.getJson("pods", "-l", "app=" + app).getJsonArray("items");
      return pods.size() == 1 && KubeCluster.ready(pods.getJsonObject(0), "Ready")
          ? pods.getJsonObject(0).getJsonObject("metadata").getString("name") : null;
    }, name -> name != null);
    KubernetesDemo.awaitAnswering(cluster, pod);
    return pod;
  }

  /** kubectl auth can-i as a ServiceAccount (a subresource must be --subresource=..., not "nodes/checkpoint"). */
  private static boolean canI(String as, String verb, String resource, String... more) {
    List<String> args = new ArrayList<>(List.of("auth", "can-i", verb, resource, as));
    args.addAll(List.of(more));
    return cluster.kubectl(args.toArray(String[]::new)).output().strip().endsWith("yes");
  }

  /** How many containers the node's containerd restored from a checkpoint ("Restored container ... successfully"). */
  private static long restoredContainers(String node) throws IOException {
    Path log = cluster.nodeLog(node, "containerd");
    try (var lines = Files.lines(log)) {
      return lines.filter(line -> line.contains("Restored container") && line.contains("successfully")).count();
    }
  }

  private static long seed() {
    return ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
  }
}
