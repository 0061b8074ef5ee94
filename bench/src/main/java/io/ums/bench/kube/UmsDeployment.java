package io.ums.bench.kube;

import io.ums.protocol.security.BearerToken;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * UMS deployed on a {@link KubeCluster} the way a user deploys it: the images built by scripts/build-images.sh
 * (podman), exported with {@code podman save --format oci-archive} and imported into every node's containerd
 * (no registry), Secret {@code ums-tokens} created as deploy/coordinator.yml says, then
 * {@code deploy/coordinator.yml} and {@code deploy/daemonset.yml} applied as they are but for the image names
 * and {@code imagePullPolicy: Never}. Blocking.
 */
public final class UmsDeployment {
  public static final String NAMESPACE = "ums-system";
  public static final String AGENT_LABEL = "app.kubernetes.io/name=ums-agent";
  public static final String COORDINATOR_LABEL = "app.kubernetes.io/name=ums-coordinator";
  /** The images' tag in the manifests, replaced by this cluster's own build. */
  private static final String MANIFEST_VERSION = "0.1.0";
  private static final Duration ROLLOUT = Duration.ofMinutes(4);

  private final KubeCluster cluster;
  private final String version;
  private final BearerToken apiToken = BearerToken.random();

  private UmsDeployment(KubeCluster cluster) {
    this.cluster = cluster;
    // a tag of this cluster's own: other checkouts building ums-agent:0.1.0 meanwhile do not swap images under it
    this.version = MANIFEST_VERSION + "-k8s" + cluster.id();
  }

  /** Builds, imports and applies everything; a deployment left by an earlier run is replaced. */
  public static UmsDeployment deploy(KubeCluster cluster, Path scratch, Consumer<String> step) {
    UmsDeployment deployment = new UmsDeployment(cluster);
    deployment.remove();
    step.accept("building the agent and coordinator images (scripts/build-images.sh, podman, tag "
        + deployment.version + ")");
    KubeCommands.check(Duration.ofMinutes(30), List.of(cluster.repo().resolve("scripts/build-images.sh").toString()),
        Map.of("UMS_IMAGE_VERSION", deployment.version));
    for (String image : List.of("agent", "coordinator")) {
      Path archive = scratch.resolve("ums-" + image + ".oci.tar");
      step.accept("podman save --format oci-archive " + deployment.image(image) + ", import into both nodes' containerd");
      KubeCommands.check(Duration.ofMinutes(5), List.of("podman", "save", "-q", "--format", "oci-archive", "-o",
          archive.toString(), deployment.image(image)));
      try {
        cluster.importImage(archive);
      } finally {
        delete(archive);
      }
    }
    step.accept("kubectl apply -f deploy/coordinator.yml, Secret ums-tokens, kubectl apply -f deploy/daemonset.yml");
    cluster.apply(deployment.manifest("coordinator.yml"));
    deployment.createTokens();
    cluster.apply(deployment.manifest("daemonset.yml"));
    cluster.kubectlOk("-n", NAMESPACE, "rollout", "status", "daemonset/ums-agent",
        "--timeout=" + ROLLOUT.toSeconds() + "s");
    cluster.kubectlOk("-n", NAMESPACE, "rollout", "status", "deployment/ums-coordinator",
        "--timeout=" + ROLLOUT.toSeconds() + "s");
    return deployment;
  }

  /** localhost/ums-&lt;name&gt;:&lt;this cluster's tag&gt;, as podman names a local build. */
  public String image(String name) {
    return "localhost/ums-" + name + ":" + version;
  }

  /**
   * A manifest of deploy/ with exactly two kinds of change: the image name (this build's tag) and the pull policy
   * (Never: there is no registry). Fails if the manifest does not have them where expected.
   */
  String manifest(String file) {
    String text;
    try {
      text = Files.readString(cluster.repo().resolve("deploy").resolve(file));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    String name = file.startsWith("daemonset") ? "agent" : "coordinator";
    String imageLine = "image: ums-" + name + ":" + MANIFEST_VERSION;
    if (!text.contains(imageLine) || !text.contains("imagePullPolicy: IfNotPresent")) {
      throw new IllegalStateException("deploy/" + file + " no longer says '" + imageLine
          + "' and 'imagePullPolicy: IfNotPresent': update " + getClass().getSimpleName());
    }
    return text.replace(imageLine, "image: " + image(name))
        .replace("imagePullPolicy: IfNotPresent", "imagePullPolicy: Never");
  }

  /** Secret ums-tokens, as the comment of deploy/coordinator.yml creates it (random tokens, never in git). */
  private void createTokens() {
    cluster.kubectlOk("-n", NAMESPACE, "create", "secret", "generic", "ums-tokens",
        "--from-literal=control-token=" + BearerToken.random().value(),
        "--from-literal=peer-token=" + BearerToken.random().value(),
        "--from-literal=api-token=" + apiToken.value());
  }

  /** The agent pods that are Ready, by node. */
  public Map<String, String> readyAgents() {
    JsonArray pods = cluster.getJson("pods", "-n", NAMESPACE, "-l", AGENT_LABEL).getJsonArray("items");
    Map<String, String> byNode = new java.util.TreeMap<>();
    pods.stream().map(JsonObject.class::cast).filter(pod -> KubeCluster.ready(pod, "Ready"))
        .forEach(pod -> byNode.put(pod.getJsonObject("spec").getString("nodeName"),
            pod.getJsonObject("metadata").getString("name")));
    return byNode;
  }

  /** The coordinator's pod (the first of the Deployment's). */
  public JsonObject coordinatorPod() {
    JsonArray pods = cluster.getJson("pods", "-n", NAMESPACE, "-l", COORDINATOR_LABEL).getJsonArray("items");
    if (pods.isEmpty()) {
      throw new IllegalStateException("no coordinator pod in " + NAMESPACE);
    }
    return pods.getJsonObject(0);
  }

  /** The coordinator Service's cluster IP. */
  public String coordinatorServiceIp() {
    return cluster.getJson("service", "-n", NAMESPACE, "ums-coordinator").getJsonObject("spec").getString("clusterIP");
  }

  /**
   * {@code POST /migrate} to the coordinator through its Service: curl inside {@code fromNode}'s network namespace,
   * where kube-proxy routes the cluster IP. {@code destinationUrl} is the coordinator itself by its loopback name
   * (this cluster has no DNS for the Service names the manifest also lists as peers).
   */
  public MigrateAnswer migrate(String fromNode, JsonObject request) {
    JsonObject body = request.copy();
    if (!body.containsKey("destinationUrl")) {
      body.put("destinationUrl", "http://localhost:8080");
    }
    KubeCommands.Result result = cluster.inNode(fromNode, Duration.ofMinutes(6), List.of("curl", "-sS",
        "--max-time", "330", "-w", "\n%{http_code}", "-H", "Authorization: " + apiToken.authorization(),
        "-H", "content-type: application/json", "-d", body.encode(),
        "http://" + coordinatorServiceIp() + ":8080/migrate"));
    String output = result.output().strip();
    int newline = output.lastIndexOf('\n');
    if (!result.ok() || newline < 0) {
      throw new KubeCommands.Failed("POST /migrate through the Service failed: " + output);
    }
    return new MigrateAnswer(Integer.parseInt(output.substring(newline + 1).strip()),
        new JsonObject(output.substring(0, newline)));
  }

  /** The coordinator's HTTP status and JSON answer. */
  public record MigrateAnswer(int status, JsonObject body) {}

  /** Deletes what the manifests created (and the Secret with the namespace); waits until it is gone. */
  public void remove() {
    for (String file : List.of("daemonset.yml", "coordinator.yml")) {
      Path manifest = null;
      try {
        manifest = Files.createTempFile("ums-kube-", ".yaml");
        Files.writeString(manifest, manifest(file));
        cluster.kubectl("delete", "-f", manifest.toString(), "--ignore-not-found", "--wait=true", "--timeout=180s");
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } finally {
        if (manifest != null) {
          delete(manifest);
        }
      }
    }
  }

  private static void delete(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException ignored) {
      // a temporary file
    }
  }
}
