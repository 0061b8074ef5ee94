package io.ums.coordinator.kubernetes;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A real Kubernetes control plane for a test suite: etcd, kube-apiserver (TLS, client certificates,
 * ServiceAccount tokens it signs, authorization {@code Node,RBAC}), kube-controller-manager and
 * kube-scheduler, the binaries scripts/k8s-build.sh built from their Go modules, started by
 * {@code scripts/cluster.sh up} in a state directory and on ports of its own (so it runs next to a
 * developer's {@code ./ums cluster}), and removed by {@code scripts/cluster.sh down}.
 * There are no kubelets: the tests play them by writing pod status as the cluster admin.
 */
final class RealControlPlane implements AutoCloseable {
  private final Path script;
  private final Map<String, String> environment;
  private final Path dir;
  private final KubernetesClient admin;
  private final String apiUrl;

  private RealControlPlane(Path script, Map<String, String> environment, Path dir) throws IOException {
    this.script = script;
    this.environment = environment;
    this.dir = dir;
    String kubeconfig = Files.readString(dir.resolve("admin.kubeconfig"));
    Config config = Config.fromKubeconfig(kubeconfig);
    this.apiUrl = config.getMasterUrl();
    this.admin = new KubernetesClientBuilder().withConfig(config).build();
  }

  /** Brings a control plane up (failing, with the script's output, when it cannot). */
  static RealControlPlane start() throws Exception {
    Path script = repositoryRoot().resolve("scripts/cluster.sh");
    Path dir = Files.createTempDirectory("ums-cluster-test-");
    Files.delete(dir); // cluster.sh makes it, and removes it on down
    Map<String, String> environment = Map.of("UMS_CLUSTER_DIR", dir.toString(), "UMS_CLUSTER_NODES", "0",
        "UMS_CLUSTER_PORT_BASE", Integer.toString(freePortBase()));
    try {
      run(script, environment, "up");
      return new RealControlPlane(script, environment, dir);
    } catch (Exception | AssertionError e) {
      run(script, environment, "down");
      throw e;
    }
  }

  /** The cluster admin (group system:masters): what the tests set up and inspect with. */
  KubernetesClient admin() {
    return admin;
  }

  String apiUrl() {
    return apiUrl;
  }

  /**
   * Nodes as objects only (no kubelet behind them): pods bound to them are not garbage-collected as orphans.
   * Tainted so that the scheduler leaves them alone: the tests bind pods themselves.
   */
  void registerNodes(String... names) {
    for (String name : names) {
      admin.nodes().resource(new NodeBuilder().withNewMetadata().withName(name).endMetadata()
          .withNewSpec().addNewTaint().withKey("ums.io/no-kubelet").withEffect("NoSchedule").endTaint().endSpec()
          .build()).create();
    }
  }

  /** Creates the objects of a manifest, as they are, as the cluster admin. */
  List<HasMetadata> apply(Path manifest, java.util.function.Predicate<HasMetadata> which) throws IOException {
    List<HasMetadata> applied = new ArrayList<>();
    try (InputStream in = Files.newInputStream(manifest)) {
      for (HasMetadata item : admin.load(in).items()) {
        if (which.test(item)) {
          applied.add(admin.resource(item).create());
        }
      }
    }
    return applied;
  }

  /**
   * A client that authenticates as the ServiceAccount with a token the API server signs (TokenRequest API),
   * and nothing else: no client certificate, no admin rights.
   */
  KubernetesClient serviceAccountClient(String namespace, String serviceAccount) {
    String token = admin.serviceAccounts().inNamespace(namespace).withName(serviceAccount)
        .tokenRequest(new TokenRequestBuilder().withNewSpec().withExpirationSeconds(3600L).endSpec().build())
        .getStatus().getToken();
    Config config = new ConfigBuilder(Config.empty())
        .withMasterUrl(apiUrl)
        .withCaCertFile(dir.resolve("pki/ca.crt").toString())
        .withOauthToken(token)
        .withNamespace(namespace)
        .build();
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  @Override
  public void close() throws Exception {
    admin.close();
    run(script, environment, "down");
  }

  private static void run(Path script, Map<String, String> environment, String command) throws Exception {
    ProcessBuilder builder = new ProcessBuilder(script.toString(), command).redirectErrorStream(true);
    builder.environment().putAll(environment);
    Process process = builder.start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    System.out.print(output);
    if (!process.waitFor(5, TimeUnit.MINUTES) || process.exitValue() != 0) {
      throw new AssertionError("scripts/cluster.sh " + command + " failed: " + output);
    }
  }

  /** Three consecutive free ports (API server, etcd client, etcd peer). */
  private static int freePortBase() throws IOException {
    for (int attempt = 0; attempt < 50; attempt++) {
      int base = ThreadLocalRandom.current().nextInt(20000, 30000);
      if (free(base) && free(base + 1) && free(base + 2)) {
        return base;
      }
    }
    throw new IOException("no three consecutive free ports in 20000-30000");
  }

  private static boolean free(int port) {
    try (ServerSocket socket = new ServerSocket(port)) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  static Path repositoryRoot() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.exists(dir.resolve("scripts/cluster.sh"))) {
      dir = dir.getParent();
    }
    if (dir == null) {
      throw new IllegalStateException("scripts/cluster.sh not found above " + Path.of("").toAbsolutePath());
    }
    return dir;
  }
}
