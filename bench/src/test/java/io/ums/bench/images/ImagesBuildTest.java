package io.ums.bench.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.host.HostCommand;
import io.ums.bench.local.JsonHttp;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * deploy/Dockerfile.agent and deploy/Dockerfile.coordinator built for real by scripts/build-images.sh (podman,
 * with locally bootstrapped Debian base images where no registry is reachable), then the images run: the
 * coordinator behind a published port, the agent the way deploy/daemonset.yml runs it (privileged, host PID
 * namespace, host network, a work dir volume), launching a workload and stopping on SIGTERM. Images stay
 * cached in podman's storage, so a second run only checks them; containers never stay.
 */
@Tag("slow")
class ImagesBuildTest {
  private static final String AGENT_IMAGE = "ums-agent:0.1.0";
  private static final String COORDINATOR_IMAGE = "ums-coordinator:0.1.0";
  /** deploy/daemonset.yml: terminationGracePeriodSeconds, after which the kubelet kills the agent. */
  private static final int DAEMONSET_GRACE_SECONDS = 45;
  private static final Duration CALL = Duration.ofSeconds(5);

  private final JsonHttp http = new JsonHttp();

  @BeforeAll
  static void buildImages() throws Exception {
    Assumptions.assumeTrue(Podman.installed(),
        "podman is not installed: the image smoke tests need it (./ums setup installs it)");
    Podman.removeAll();
    Path script = repositoryRoot().resolve("scripts/build-images.sh");
    long started = System.nanoTime();
    Process build = new ProcessBuilder(script.toString()).directory(repositoryRoot().toFile())
        .redirectErrorStream(true).start();
    build.getOutputStream().close();
    // through System.out, which surefire reports (an inherited descriptor would bypass it)
    try (var lines = build.inputReader().lines()) {
      lines.forEach(System.out::println);
    }
    assertThat(build.waitFor(25, TimeUnit.MINUTES)).as("build-images.sh finished within 25 min").isTrue();
    assertThat(build.exitValue()).as("build-images.sh exit code (its output is above)").isZero();
    System.out.printf("[images] build-images.sh took %d s%n", TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started));
  }

  @AfterEach
  void removeContainers() {
    // what the containers said, for a failed test; then none of them stays
    Podman.printLogTails();
    Podman.removeAll();
  }

  @AfterAll
  static void nothingLeft() {
    if (Podman.installed()) {
      assertThat(Podman.leftovers()).as("containers and networks left by the test").isEmpty();
    }
  }

  @Test
  void coordinatorImageAnswersHelp() {
    HostCommand.Result help = Podman.run(List.of("run", "--rm", "--name", Podman.uniqueName("help"),
        COORDINATOR_IMAGE, "--help"));

    assertThat(help.exitCode()).as(help.output()).isZero();
    assertThat(help.output()).contains("--agents", "--kubernetes", "--port");
  }

  @Test
  void coordinatorImageInLocalModeAnswersHealthcheckOnAPublishedPort() throws IOException {
    String network = Podman.createNetwork();
    int port = Podman.freePort();
    // a fake agent list: nothing listens there, the health check must not depend on the agents
    Podman.check("run", "--detach", "--name", Podman.uniqueName("coordinator"), "--network", network,
        "--publish", "127.0.0.1:" + port + ":8080", COORDINATOR_IMAGE,
        "--agents", "fake-a=http://127.0.0.1:9,fake-b=http://127.0.0.1:10", "--port", "8080");

    JsonObject health = await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> (JsonObject) http.getOk("http://127.0.0.1:" + port + "/healthcheck", CALL).json(),
            reply -> reply != null);

    assertThat(health.getString("status")).isEqualTo("UP");
    assertThat(health.getString("mode")).isEqualTo("local");
  }

  @Test
  void agentImageRunsAsTheDaemonSetRunsItLaunchesAWorkloadAndStopsOnSigterm(@TempDir Path dir) throws IOException {
    Path tokenFile = http.token().writeTo(dir.resolve("control-token"));
    RunningAgent agent = startAgent("image-node", dir, tokenFile);

    JsonObject criu = ((JsonObject) http.getOk(agent.control() + "/v1/info", CALL).json()).getJsonObject("criu");
    assertThat(criu.getBoolean("ok")).as("criu in the image: %s", criu).isTrue();
    assertThat(Runtime.Version.parse(criu.getString("version"))).as("criu version")
        .isGreaterThanOrEqualTo(Runtime.Version.parse("4.2"));

    JsonObject workload = launchTicker(agent);
    String id = workload.getString("id");
    // host PID namespace: the agent's pids are the host's, as CRIU on a real node needs
    assertThat(Path.of("/proc", Long.toString(workload.getLong("pid")))).exists();
    awaitTick(agent, id, 5);
    JsonArray listed = (JsonArray) http.getOk(agent.control() + "/v1/workloads", CALL).json();
    assertThat(listed.getJsonObject(0).getString("status")).isEqualTo("RUNNING");
    http.delete(agent.control() + "/v1/workloads/" + id, CALL);

    long stopping = System.nanoTime();
    // podman stop sends the image's stop signal (SIGTERM) and kills only after the grace period
    Podman.check("stop", "--time", Integer.toString(DAEMONSET_GRACE_SECONDS), agent.container());
    Duration stopped = Duration.ofNanos(System.nanoTime() - stopping);

    JsonObject state = Podman.inspectState(agent.container());
    assertThat(state.getInteger("ExitCode")).as("exit code after SIGTERM (137 = killed)").isZero();
    assertThat(stopped).isLessThan(Duration.ofSeconds(DAEMONSET_GRACE_SECONDS));
    assertThat(Podman.check("logs", agent.container())).contains("DRAINING");
    assertThat(Path.of("/proc", Long.toString(workload.getLong("pid")))).doesNotExist();
  }

  @Test
  void coordinatorImageMigratesAWorkloadBetweenTwoAgentContainers(@TempDir Path dir) throws IOException {
    Path tokenFile = http.token().writeTo(dir.resolve("control-token"));
    RunningAgent source = startAgent("image-a", dir, tokenFile);
    RunningAgent destination = startAgent("image-b", dir, tokenFile);
    // the coordinator image runs as uid 10001 (in Kubernetes the Secret volume's fsGroup gives it the file)
    Path coordinatorToken = Files.copy(tokenFile, dir.resolve("coordinator-token"));
    Files.setAttribute(coordinatorToken, "unix:uid", 10001);
    int port = Podman.freePort();
    // host network like the agents: it reaches them on loopback, the test reaches it there too
    Podman.check("run", "--detach", "--name", Podman.uniqueName("coordinator"), "--network=host",
        "--volume", coordinatorToken + ":/var/run/ums/token:ro", COORDINATOR_IMAGE, "--host=127.0.0.1", "--port=" + port,
        "--agents", "image-a=" + source.control() + ",image-b=" + destination.control(),
        "--agent-token-file=/var/run/ums/token", "--peer-token-file=/var/run/ums/token",
        "--api-token-file=/var/run/ums/token");
    String coordinator = "http://127.0.0.1:" + port;
    await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> http.get(coordinator + "/healthcheck", CALL).status() == 200);
    awaitTick(source, launchTicker(source).getString("id"), 5);

    JsonObject done = (JsonObject) http.postOk(coordinator + "/migrate",
        Map.of("name", "ticker", "destinationUrl", coordinator), Duration.ofMinutes(2)).json();

    assertThat(done.getJsonObject("destination").getString("node")).isEqualTo("image-b");
    String moved = done.getJsonObject("destination").getString("workloadId");
    String logs = awaitTick(destination, moved, 1);
    // restored, not restarted: the counter goes on from where the source left it
    assertThat(logs.lines().findFirst().orElseThrow()).isNotEqualTo("tick 1");
    assertThat((JsonArray) http.getOk(source.control() + "/v1/workloads", CALL).json()).isEmpty();
    http.delete(destination.control() + "/v1/workloads/" + moved, CALL);
  }

  private record RunningAgent(String container, String control) {}

  /**
   * An agent container the way deploy/daemonset.yml runs it: privileged, host PID namespace, host network, the
   * work dir and the control token as volumes, a memory-backed /run/ums for checkpoint sessions (the
   * DaemonSet's emptyDir, which is not mounted noexec). Bound to loopback, since the host network is shared.
   */
  private RunningAgent startAgent(String node, Path dir, Path tokenFile) throws IOException {
    Path workDir = Files.createDirectories(dir.resolve(node));
    int controlPort = Podman.freePort();
    String container = Podman.uniqueName(node);
    Podman.check("run", "--detach", "--name", container, "--privileged", "--pid=host", "--network=host",
        "--volume", workDir + ":/var/lib/ums", "--volume", tokenFile + ":/var/run/ums/control/token:ro",
        "--tmpfs", "/run/ums:rw,exec,mode=755", AGENT_IMAGE, "--node=" + node, "--bind=127.0.0.1",
        "--control-port=" + controlPort, "--data-port=" + Podman.freePort(), "--work-dir=/var/lib/ums",
        "--grace-period=5", "--control-token-file=/var/run/ums/control/token");
    RunningAgent agent = new RunningAgent(container, "http://127.0.0.1:" + controlPort);
    await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> http.get(agent.control() + "/health", CALL).status() == 200);
    return agent;
  }

  private JsonObject launchTicker(RunningAgent agent) {
    return (JsonObject) http.postOk(agent.control() + "/v1/workloads", Map.of("name", "ticker", "kind", "process",
        "command", List.of("sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done")), CALL).json();
  }

  /** The workload's output once it has printed {@code ticks} more lines. */
  private String awaitTick(RunningAgent agent, String workload, int ticks) {
    return await().atMost(Duration.ofSeconds(30))
        .until(() -> http.getOk(agent.control() + "/v1/workloads/" + workload + "/logs", CALL).body(),
            logs -> logs.lines().filter(line -> line.startsWith("tick ")).count() >= ticks);
  }

  private static Path repositoryRoot() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.exists(dir.resolve("scripts/build-images.sh"))) {
      dir = dir.getParent();
    }
    if (dir == null) {
      throw new IllegalStateException("scripts/build-images.sh not found above " + Path.of("").toAbsolutePath());
    }
    return dir;
  }
}
