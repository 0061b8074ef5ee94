package io.ums.bench.kube;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A cluster of {@code ./ums cluster} (scripts/cluster.sh) as seen from the host: its id ({@code UMS_CLUSTER_ID},
 * from which the script derives its directory, subnets and namespaces), the admin kubeconfig, each node's
 * network namespace and containerd socket. Brings the cluster up when it does not run, and down again only
 * then. Blocking.
 */
public final class KubeCluster {
  public static final List<String> NODES = List.of("node-a", "node-b");
  private static final Duration KUBECTL = Duration.ofSeconds(150);

  private final Path repo;
  private final int id;
  private final Path dir;
  private final Path bin;
  private boolean startedHere;
  private long upMillis = -1;

  private KubeCluster(Path repo, int id, Path dir, Path bin) {
    this.repo = repo;
    this.id = id;
    this.dir = dir;
    this.bin = bin;
  }

  /** The cluster the environment names ({@code UMS_CLUSTER_ID}, default 0), of the checkout at {@code repo}. */
  public static KubeCluster fromEnvironment(Path repo) {
    int id = Integer.parseInt(env("UMS_CLUSTER_ID", "0"));
    if (id < 0 || id > 9) {
      throw new IllegalArgumentException("UMS_CLUSTER_ID must be 0-9, not " + id);
    }
    Path dir = Path.of(env("UMS_CLUSTER_DIR", "/var/lib/ums/cluster" + (id == 0 ? "" : "-" + id)));
    return new KubeCluster(repo, id, dir, Path.of(env("UMS_K8S_PREFIX", "/opt/ums/k8s"), "bin"));
  }

  public int id() {
    return id;
  }

  public Path repo() {
    return repo;
  }

  /** Whether {@code ./ums cluster status} says it runs, with both nodes' containerd sockets there. */
  public boolean running() {
    return KubeCommands.run(Duration.ofSeconds(60), ums("status"), environment()).ok()
        && NODES.stream().allMatch(node -> Files.exists(containerdSocket(node)));
  }

  /** Uses the running cluster, or brings one up (then {@link #downIfStartedHere} takes it down again). */
  public void ensureUp() {
    if (running()) {
      return;
    }
    long started = System.nanoTime();
    KubeCommands.check(Duration.ofMinutes(15), ums("up"), environment());
    upMillis = (System.nanoTime() - started) / 1_000_000;
    startedHere = true;
  }

  /** How long {@link #ensureUp} took to bring the cluster up; -1 when it was running already. */
  public long upMillis() {
    return upMillis;
  }

  public boolean startedHere() {
    return startedHere;
  }

  public void downIfStartedHere() {
    if (startedHere) {
      KubeCommands.check(Duration.ofMinutes(5), ums("down"), environment());
      startedHere = false;
    }
  }

  /** Imports an OCI archive into every node's containerd ({@code ./ums cluster import}). */
  public void importImage(Path archive) {
    KubeCommands.check(Duration.ofMinutes(5), ums("import", archive.toString()), environment());
  }

  /** The host's path to a node's containerd socket (a symlink into the node's mount namespace). */
  public Path containerdSocket(String node) {
    return dir.resolve("nodes").resolve(node).resolve("containerd.sock");
  }

  /** A node daemon's log (containerd, kubelet, kube-proxy) on the host. */
  public Path nodeLog(String node, String daemon) {
    return dir.resolve("nodes").resolve(node).resolve("logs").resolve(daemon + ".log");
  }

  /** The kubelet's checkpoint archives of {@code pod} (namespace default) on the node, as the host sees them. */
  public List<Path> checkpointArchives(String node, String pod) {
    Path checkpoints = dir.resolve("nodes").resolve(node).resolve("kubelet").resolve("checkpoints");
    if (!Files.isDirectory(checkpoints)) {
      return List.of();
    }
    try (var files = Files.list(checkpoints)) {
      return files.filter(f -> f.getFileName().toString().startsWith("checkpoint-" + pod + "_default-")).toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** crictl against a node's containerd. */
  public KubeCommands.Result crictl(String node, String... args) {
    List<String> command = new ArrayList<>(List.of(bin("crictl").toString(), "--runtime-endpoint",
        "unix://" + containerdSocket(node)));
    command.addAll(List.of(args));
    return KubeCommands.run(KUBECTL, command);
  }

  /** A node's network namespace, as scripts/cluster-nodes.sh names it. */
  public String netns(String node) {
    return "ums-k8s" + (id == 0 ? "" : String.valueOf(id)) + "-" + node;
  }

  public Path bin(String tool) {
    return bin.resolve(tool);
  }

  public KubeCommands.Result kubectl(String... args) {
    List<String> command = new ArrayList<>(List.of(bin("kubectl").toString(),
        "--kubeconfig=" + dir.resolve("admin.kubeconfig")));
    command.addAll(List.of(args));
    return KubeCommands.run(KUBECTL, command);
  }

  public String kubectlOk(String... args) {
    KubeCommands.Result result = kubectl(args);
    if (!result.ok()) {
      throw new KubeCommands.Failed("kubectl " + String.join(" ", args) + " failed: " + result.output().strip());
    }
    return result.output();
  }

  public JsonObject getJson(String... args) {
    List<String> all = new ArrayList<>(List.of("get"));
    all.addAll(List.of(args));
    all.add("-o=json");
    return new JsonObject(kubectlOk(all.toArray(String[]::new)));
  }

  /** kubectl apply of a manifest given as text. */
  public void apply(String manifest) {
    try {
      Path file = Files.createTempFile("ums-kube-", ".yaml");
      try {
        Files.writeString(file, manifest);
        kubectlOk("apply", "-f", file.toString());
      } finally {
        Files.deleteIfExists(file);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** What the API server's {@code /version} says (gitVersion). */
  public String apiServerVersion() {
    return new JsonObject(kubectlOk("get", "--raw", "/version")).getString("gitVersion");
  }

  public int nodesReady() {
    JsonArray nodes = getJson("nodes").getJsonArray("items");
    return (int) nodes.stream().map(JsonObject.class::cast).filter(node -> ready(node, "Ready")).count();
  }

  /** Whether the object's status has condition {@code type} True (pods: Ready; nodes: Ready). */
  public static boolean ready(JsonObject object, String type) {
    JsonArray conditions = object.getJsonObject("status", new JsonObject()).getJsonArray("conditions", new JsonArray());
    return conditions.stream().map(JsonObject.class::cast)
        .anyMatch(c -> type.equals(c.getString("type")) && "True".equals(c.getString("status")));
  }

  /** Runs a command inside a node's network namespace (where kube-proxy makes Service IPs work). */
  public KubeCommands.Result inNode(String node, Duration timeout, List<String> command) {
    List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", netns(node)));
    all.addAll(command);
    return KubeCommands.run(timeout, all);
  }

  /**
   * What a client on {@code node} depends on to reach {@code service} (namespace default), for a failure message:
   * the cluster IP, the EndpointSlices' endpoints with their conditions, the node's iptables rules naming the
   * cluster IP (kube-proxy's), the node's conntrack entries towards it (an un-NATed SYN_SENT entry is a client
   * stuck on a SYN sent before kube-proxy programmed the Service), and the end of the node's kube-proxy log.
   */
  public String serviceDiagnostics(String service, String node) {
    StringBuilder text = new StringBuilder();
    KubeCommands.Result svc = kubectl("get", "service", service, "-o", "jsonpath={.spec.clusterIP}");
    String clusterIp = svc.ok() ? svc.output().strip() : "";
    text.append("Service ").append(service).append(" cluster IP: ").append(svc.output().strip()).append('\n');
    text.append("EndpointSlices: ").append(kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name="
        + service, "-o", "jsonpath={range .items[*].endpoints[*]}{.addresses} {.conditions}{\"\\n\"}{end}")
        .output().strip()).append('\n');
    if (!clusterIp.isEmpty()) {
      String rules = inNode(node, Duration.ofSeconds(30), List.of("iptables-save")).output().lines()
          .filter(line -> line.contains(clusterIp)).reduce("", (a, b) -> a + "  " + b + "\n");
      text.append(node).append(" iptables rules for ").append(clusterIp).append(":\n")
          .append(rules.isEmpty() ? "  (none)\n" : rules);
      // the kernel's table, read in the node's namespace (the conntrack tool is not installed everywhere)
      String entries = inNode(node, Duration.ofSeconds(30), List.of("cat", "/proc/net/nf_conntrack")).output()
          .lines().filter(line -> line.contains("dst=" + clusterIp + " ")).map(line -> line.replaceAll(" +", " "))
          .reduce("", (a, b) -> a + "  " + b + "\n");
      text.append(node).append(" conntrack entries to ").append(clusterIp).append(":\n")
          .append(entries.isEmpty() ? "  (none)\n" : entries);
    }
    try {
      List<String> log = Files.readAllLines(nodeLog(node, "kube-proxy"));
      text.append(node).append(" kube-proxy log, last lines:\n  ")
          .append(String.join("\n  ", log.subList(Math.max(0, log.size() - 15), log.size())));
    } catch (IOException e) {
      text.append("kube-proxy log unreadable: ").append(e.getMessage());
    }
    return text.toString();
  }

  /** A name unique to this run, usable as a Kubernetes name. */
  public static String uniqueName(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  private List<String> ums(String... args) {
    List<String> command = new ArrayList<>(List.of(repo.resolve("ums").toString(), "cluster"));
    command.addAll(List.of(args));
    return command;
  }

  /** For ./ums cluster: this cluster's id and directory, whatever the caller's environment says. */
  private Map<String, String> environment() {
    return Map.of("UMS_CLUSTER_ID", String.valueOf(id), "UMS_CLUSTER_DIR", dir.toString());
  }

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? fallback : value;
  }
}
