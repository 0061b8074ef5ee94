package io.ums.bench.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.agent.testkit.HostCommand;
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
    Path workDir = Files.createDirectories(dir.resolve("work"));
    Path tokenFile = http.token().writeTo(dir.resolve("control-token"));
    int controlPort = Podman.freePort();
    String agent = Podman.uniqueName("agent");
    // the DaemonSet's privileges and namespaces; bound to loopback since the host network is shared here
    Podman.check("run", "--detach", "--name", agent, "--privileged", "--pid=host", "--network=host",
        "--volume", workDir + ":/var/lib/ums", "--volume", tokenFile + ":/var/run/ums/control/token:ro",
        AGENT_IMAGE, "--node=image-node", "--bind=127.0.0.1", "--control-port=" + controlPort,
        "--data-port=" + Podman.freePort(), "--work-dir=/var/lib/ums", "--grace-period=5",
        "--control-token-file=/var/run/ums/control/token");
    String control = "http://127.0.0.1:" + controlPort;

    await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> http.get(control + "/health", CALL).status() == 200);
    JsonObject criu = ((JsonObject) http.getOk(control + "/v1/info", CALL).json()).getJsonObject("criu");
    assertThat(criu.getBoolean("ok")).as("criu in the image: %s", criu).isTrue();
    assertThat(Runtime.Version.parse(criu.getString("version"))).as("criu version")
        .isGreaterThanOrEqualTo(Runtime.Version.parse("4.2"));

    JsonObject workload = (JsonObject) http.postOk(control + "/v1/workloads", Map.of("name", "ticker",
        "kind", "process", "command", List.of("sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done")),
        CALL).json();
    String id = workload.getString("id");
    // host PID namespace: the agent's pid is the host's, as CRIU on a real node needs
    assertThat(Path.of("/proc", Long.toString(workload.getLong("pid")))).exists();
    await().atMost(Duration.ofSeconds(30))
        .until(() -> http.getOk(control + "/v1/workloads/" + id + "/logs", CALL).body(), logs -> logs.contains("tick 5"));
    JsonArray listed = (JsonArray) http.getOk(control + "/v1/workloads", CALL).json();
    assertThat(listed.getJsonObject(0).getString("status")).isEqualTo("RUNNING");
    http.delete(control + "/v1/workloads/" + id, CALL);

    long stopping = System.nanoTime();
    // podman stop sends the image's stop signal (SIGTERM) and kills only after the grace period
    Podman.check("stop", "--time", Integer.toString(DAEMONSET_GRACE_SECONDS), agent);
    Duration stopped = Duration.ofNanos(System.nanoTime() - stopping);

    JsonObject state = Podman.inspectState(agent);
    assertThat(state.getInteger("ExitCode")).as("exit code after SIGTERM (137 = killed)").isZero();
    assertThat(stopped).isLessThan(Duration.ofSeconds(DAEMONSET_GRACE_SECONDS));
    assertThat(Podman.check("logs", agent)).contains("DRAINING");
    assertThat(Path.of("/proc", Long.toString(workload.getLong("pid")))).doesNotExist();
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
