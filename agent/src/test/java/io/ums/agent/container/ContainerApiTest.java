package io.ums.agent.container;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.agent.Agent;
import io.ums.agent.AgentConfig;
import io.ums.agent.AgentHttp;
import io.ums.agent.UnavailableMigrations;
import io.ums.testkit.BusyboxImages;
import io.ums.testkit.MemServiceClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * /v1/images and container workloads through a real agent's HTTP API, with a real runc container (in the
 * agent's network namespace: here the host's, reached on loopback).
 */
@Tag("slow")
class ContainerApiTest {
  @TempDir
  Path dir;
  private Agent agent;
  private AgentHttp http;

  @BeforeEach
  void startAgent() throws Exception {
    agent = Agent.start(AgentConfig.local("node-c", dir.resolve("work")), UnavailableMigrations::start)
        .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    http = new AgentHttp(agent.controlPort());
  }

  @AfterEach
  void stopAgent() throws Exception {
    if (agent != null) {
      for (Object workload : http.get("/v1/workloads").array()) {
        http.delete("/v1/workloads/" + ((JsonObject) workload).getString("id"));
      }
      agent.shutdown().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void importsImagesAndRunsAContainerFromThem() throws Exception {
    String base = BusyboxImages.baseLayer(dir).toString();
    String top = BusyboxImages.memServiceLayer(dir).toString();
    assertThat(http.post("/v1/images", new JsonObject().put("name", "busybox").put("rootfs", base)).status())
        .isEqualTo(201);
    JsonObject image = http.post("/v1/images", new JsonObject().put("name", "memservice").put("rootfs", top)
        .put("base", "busybox")).json();
    assertThat(image.getJsonArray("layers")).hasSize(2);
    assertThat(http.get("/v1/images").array()).hasSize(2);
    assertThat(http.get("/v1/images/memservice").json()).isEqualTo(image);

    int port = 18000 + ThreadLocalRandom.current().nextInt(1000);
    AgentHttp.Reply launched = http.post("/v1/workloads", new JsonObject().put("name", "svc").put("kind", "container")
        .put("runtime", "runc").put("image", "memservice")
        .put("command", new JsonArray(BusyboxImages.memServiceCommand(port, 8, 3))));
    assertThat(launched.status()).as(launched.toString()).isEqualTo(201);
    JsonObject workload = launched.json();
    assertThat(workload.getString("kind")).isEqualTo("container");
    assertThat(workload.getString("runtime")).isEqualTo("runc");
    await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
        .until(() -> MemServiceClient.query("127.0.0.1", port, 1000), answer -> true);
    assertThat(http.get("/v1/workloads/" + workload.getString("id") + "/logs").body()).contains("ready port=" + port);

    assertThat(http.delete("/v1/images/memservice").status()).isEqualTo(409);
    assertThat(http.delete("/v1/workloads/" + workload.getString("id")).status()).isEqualTo(204);
    assertThat(http.delete("/v1/images/memservice").status()).isEqualTo(204);
    assertThat(http.get("/v1/images/memservice").status()).isEqualTo(404);
    assertThat(http.get("/v1/images").array()).hasSize(1);
  }

  @Test
  void aRestartedAgentFindsItsRunningContainers() throws Exception {
    String base = BusyboxImages.baseLayer(dir).toString();
    assertThat(http.post("/v1/images", new JsonObject().put("name", "busybox").put("rootfs", base)).status())
        .isEqualTo(201);
    AgentHttp.Reply launched = http.post("/v1/workloads", new JsonObject().put("name", "sleeper")
        .put("kind", "container").put("runtime", "runc").put("image", "busybox")
        .put("command", new JsonArray().add("/bin/sleep").add("600")));
    assertThat(launched.status()).as(launched.toString()).isEqualTo(201);
    String id = launched.json().getString("id");

    agent.shutdown().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    agent = Agent.start(AgentConfig.local("node-c", dir.resolve("work")), UnavailableMigrations::start)
        .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    http = new AgentHttp(agent.controlPort());

    JsonObject found = http.get("/v1/workloads/" + id).json();
    assertThat(found.getString("status")).isEqualTo("RUNNING");
    assertThat(found.getLong("pid")).isEqualTo(launched.json().getLong("pid"));
    assertThat(http.delete("/v1/workloads/" + id).status()).isEqualTo(204);
  }

  @Test
  void badImageRequestsAnswer4xxNamingTheProblem() {
    AgentHttp.Reply noName = http.post("/v1/images", new JsonObject().put("rootfs", "/x.tar"));
    assertThat(noName.status()).isEqualTo(400);
    assertThat(noName.json().getString("message")).startsWith("name:");
    AgentHttp.Reply relative = http.post("/v1/images", new JsonObject().put("name", "x").put("rootfs", "x.tar"));
    assertThat(relative.json().getString("message")).startsWith("rootfs:");
    AgentHttp.Reply missing = http.post("/v1/images", new JsonObject().put("name", "x").put("rootfs", "/nope.tar"));
    assertThat(missing.status()).isEqualTo(400);
    assertThat(http.delete("/v1/images/nope").status()).isEqualTo(404);
    AgentHttp.Reply noImage = http.post("/v1/workloads", new JsonObject().put("name", "svc").put("kind", "container")
        .put("runtime", "runc").put("image", "nope").put("command", new JsonArray().add("/memservice")));
    assertThat(noImage.status()).isEqualTo(400);
    assertThat(noImage.json().getString("message")).startsWith("image:");
  }
}
