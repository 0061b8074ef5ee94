package io.ums.coordinator.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.testkit.BusyboxImages;
import io.ums.testkit.MemServiceClient;
import io.ums.testkit.NetworkTestbed;
import io.ums.coordinator.Coordinator;
import io.ums.coordinator.CoordinatorSecurity;
import io.ums.coordinator.cluster.AgentRef;
import io.ums.coordinator.cluster.LocalCluster;
import io.ums.coordinator.migration.MigrationSettings;
import io.ums.coordinator.testing.Http;
import io.ums.coordinator.testing.Http.Answer;
import io.ums.protocol.security.BearerToken;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end in local mode, all real: two network-namespace nodes (the agent's NetworkTestbed, prefix
 * "uco"), a real agent JVM in each, CRIU 4.2 underneath, the C memory service as the workload, and
 * this coordinator in the root namespace driven only through its HTTP API.
 */
@Tag("slow")
class CoordinatorEndToEndTest {
  /** This run's token: the agents' control token, and the coordinator's agent, peer and API token. */
  private static final BearerToken TOKEN = BearerToken.random();
  private static final Http.Client HTTP = Http.as(Optional.of(TOKEN), Optional.empty());
  private static final int SERVICE_PORT = 17301;
  private static final int MEMORY_MIB = 128;
  private static final int REDIS_PORT = 17379;

  @TempDir
  Path dir;

  private LocalModeBed bed;
  private NetworkTestbed network;
  private List<AgentNode> agents;
  private Coordinator coordinator;

  @BeforeEach
  void start() throws Exception {
    bed = LocalModeBed.start("uco", dir, node -> new AgentNode(node, dir.resolve(node.name()), TOKEN),
        new MigrationSettings(Duration.ofMillis(50), Duration.ofSeconds(60)), LocalModeBed.oneToken(TOKEN));
    network = bed.network();
    agents = bed.agents();
    coordinator = bed.coordinator();
  }

  @AfterEach
  void stop() throws Exception {
    if (bed != null) {
      bed.close();
    }
  }

  @Test
  void migratesARealWorkloadThroughTheApiWithA409AndA400() throws Exception {
    AgentNode source = agents.get(0);
    AgentNode destination = agents.get(1);
    MemServiceClient.Answer before = launchMemService(source, "memsvc", SERVICE_PORT, MEMORY_MIB);

    Answer bad = HTTP.post(coordinator.url() + "/migrate", "{\"name\": \"memsvc\", \"destinationUrl\": \""
        + coordinator.url() + "\", \"keep\": \"maybe\"}");
    assertThat(bad.status()).as(bad.body()).isEqualTo(400);
    assertThat(bad.json().getString("message")).startsWith("keep:");

    JsonObject request = new JsonObject().put("name", "memsvc").put("destinationUrl", coordinator.url())
        .put("keep", "false");
    CompletableFuture<Answer> first = CompletableFuture.supplyAsync(() -> HTTP.post(coordinator.url() + "/migrate", request));
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(5))
        .until(() -> !HTTP.get(coordinator.url() + "/migrations").json().getJsonArray("migrations").isEmpty());
    Answer second = HTTP.post(coordinator.url() + "/migrate", request);
    assertThat(second.status()).as(second.body()).isEqualTo(409);
    assertThat(second.json().getString("error")).isEqualTo("ALREADY_MIGRATING");

    Answer done = first.get(120, TimeUnit.SECONDS);
    assertThat(done.status()).as(done.body() + "\nsource agent log:\n" + source.log()).isEqualTo(200);
    JsonObject body = done.json();
    System.out.println("POST /migrate answered: " + body.encodePrettily());
    assertThat(body.getString("interface")).isEqualTo("ff");
    assertThat(body.getJsonObject("destination").getString("node")).isEqualTo(destination.node.name());
    assertThat(body.getJsonObject("bytes").getLong("raw")).isGreaterThanOrEqualTo((long) MEMORY_MIB << 20);
    assertThat(body.getJsonObject("overhead").getLong("total")).isPositive();

    MemServiceClient.Answer after = MemServiceClient.verify(destination.node.address(), SERVICE_PORT, 5000);
    assertThat(after.checksum()).as("memory survived").isEqualTo(before.checksum());
    assertThat(after.counter()).as("counter continued").isGreaterThanOrEqualTo(before.counter());
    assertThat(names(source)).doesNotContain("memsvc");
    assertThat(names(destination)).contains("memsvc");
    List<String> events = HTTP.events(coordinator.url() + "/migrations/" + body.getString("migrationId") + "/events")
        .stream().map(e -> e.getString("type")).distinct().toList();
    assertThat(events).containsExactly("RESERVED", "CHECKPOINTING", "TRANSFERRING", "RESTORING", "DONE");
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      assertThat(source.sessionFiles()).isEmpty();
      assertThat(destination.sessionFiles()).isEmpty();
    });
  }

  @Test
  void migratesARealWorkloadPostCopy() throws Exception {
    AgentNode source = agents.get(0);
    AgentNode destination = agents.get(1);
    MemServiceClient.Answer before = launchMemService(source, "memsvc", SERVICE_PORT, MEMORY_MIB);

    Answer bad = HTTP.post(coordinator.url() + "/migrate", new JsonObject().put("name", "memsvc")
        .put("destinationUrl", coordinator.url()).put("mode", "pre-copy"));
    assertThat(bad.status()).as(bad.body()).isEqualTo(400);
    assertThat(bad.json().getString("message")).startsWith("mode:");

    Answer done = HTTP.post(coordinator.url() + "/migrate", new JsonObject().put("name", "memsvc")
        .put("destinationUrl", coordinator.url()).put("mode", "post-copy"));
    assertThat(done.status()).as(done.body() + "\nsource agent log:\n" + source.log()).isEqualTo(200);
    JsonObject body = done.json();
    System.out.println("POST /migrate mode post-copy answered: " + body.encodePrettily());
    assertThat(body.getString("mode")).isEqualTo("post-copy");
    assertThat(body.getLong("postCopyMs")).isNotNull().isGreaterThanOrEqualTo(0);
    assertThat(body.getJsonObject("postCopy").getLong("pagesPushed")).isPositive();
    assertThat(body.getJsonObject("postCopy").getLong("pagesOnDemand")).isNotNull();

    MemServiceClient.Answer after = MemServiceClient.verify(destination.node.address(), SERVICE_PORT, 5000);
    assertThat(after.checksum()).as("memory survived").isEqualTo(before.checksum());
    assertThat(after.counter()).as("counter continued").isGreaterThan(before.counter());
    assertThat(names(source)).doesNotContain("memsvc");
    assertThat(names(destination)).contains("memsvc");
    List<JsonObject> events = HTTP.events(coordinator.url() + "/migrations/" + body.getString("migrationId") + "/events");
    assertThat(events.get(0).getString("type")).isEqualTo("RESERVED");
    assertThat(events.toString()).contains("post-copy");
  }

  @Test
  void aRuncContainerMigratesWithTheContainerApproachChosenForIt() throws Exception {
    AgentNode source = agents.get(0);
    AgentNode destination = agents.get(1);
    Path baseLayer = BusyboxImages.baseLayer(dir);
    Path memServiceLayer = BusyboxImages.memServiceLayer(dir);
    int port = SERVICE_PORT + 1;
    MemServiceClient.Answer before = launchBoxed(source, baseLayer, memServiceLayer, port, 32);

    Answer done = HTTP.post(coordinator.url() + "/migrate",
        new JsonObject().put("name", "boxed").put("destinationUrl", coordinator.url()));

    assertThat(done.status()).as(done.body() + "\nsource agent log:\n" + source.log()).isEqualTo(200);
    System.out.println("container migration: " + done.json().getJsonObject("overhead"));
    assertThat(done.json().getString("interface")).isEqualTo("runc");
    // The destination held no layer: both went over the wire, and both the answer and the status say so.
    long imageBytes = Files.size(baseLayer) + Files.size(memServiceLayer);
    JsonObject status = HTTP.get(coordinator.url() + "/migrations/" + done.json().getString("migrationId"))
        .json().getJsonObject("result");
    for (JsonObject reported : List.of(done.json(), status)) {
      for (String section : List.of("bytes", "overhead")) {
        assertThat(reported.getJsonObject(section).getLong("layerBytesSent")).as(section).isEqualTo(imageBytes);
        assertThat(reported.getJsonObject(section).getLong("layerBytesSkipped")).as(section).isZero();
      }
    }
    MemServiceClient.Answer after = MemServiceClient.verify(destination.node.address(), port, 5000);
    assertThat(after.checksum()).isEqualTo(before.checksum());
    assertThat(after.counter()).isGreaterThanOrEqualTo(before.counter());
    assertThat(names(source)).doesNotContain("boxed");
    assertThat(names(destination)).contains("boxed");
  }

  /** Issue 14: a runc container moves post-copy through POST /migrate (interface runc, mode post-copy). */
  @Test
  void aRuncContainerMigratesPostCopy() throws Exception {
    AgentNode source = agents.get(0);
    AgentNode destination = agents.get(1);
    int port = SERVICE_PORT + 2;
    MemServiceClient.Answer before = launchBoxed(source, BusyboxImages.baseLayer(dir),
        BusyboxImages.memServiceLayer(dir), port, 64);

    Answer done = HTTP.post(coordinator.url() + "/migrate", new JsonObject().put("name", "boxed")
        .put("destinationUrl", coordinator.url()).put("mode", "post-copy"));

    assertThat(done.status()).as(done.body() + "\nsource agent log:\n" + source.log()).isEqualTo(200);
    JsonObject body = done.json();
    System.out.println("POST /migrate runc post-copy answered: " + body.encodePrettily());
    assertThat(body.getString("interface")).isEqualTo("runc");
    assertThat(body.getString("mode")).isEqualTo("post-copy");
    assertThat(body.getLong("postCopyMs")).isNotNull().isGreaterThanOrEqualTo(0);
    assertThat(body.getJsonObject("postCopy").getLong("pagesPushed")).isPositive();
    MemServiceClient.Answer after = MemServiceClient.verify(destination.node.address(), port, 5000);
    assertThat(after.checksum()).isEqualTo(before.checksum());
    assertThat(after.counter()).isGreaterThan(before.counter());
    assertThat(names(source)).doesNotContain("boxed");
    assertThat(names(destination)).contains("boxed");
  }

  /** Imports busybox + memservice on {@code source} and runs the memory service in a runc container "boxed". */
  private static MemServiceClient.Answer launchBoxed(AgentNode source, Path baseLayer, Path memServiceLayer, int port,
                                                     int mib) throws Exception {
    importImage(source, "busybox", baseLayer, null);
    importImage(source, "memservice", memServiceLayer, "busybox");
    Answer launched = HTTP.post(source.url() + "/v1/workloads", new JsonObject().put("name", "boxed")
        .put("kind", "container").put("runtime", "runc").put("image", "memservice")
        .put("command", new JsonArray(BusyboxImages.memServiceCommand(port, mib, 7))));
    assertThat(launched.status()).as(launched.body()).isEqualTo(201);
    return await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(source.node.address(), port, 5000), any -> true);
  }

  @Test
  void crossClusterTheDestinationCoordinatorReservesOnItsOwnAgent() throws Exception {
    AgentNode source = agents.get(0);
    AgentNode destination = agents.get(1);
    // two clusters of one node each: this coordinator knows only node-a, the other only node-b
    Coordinator there = Coordinator.start(bed.vertx(), "127.0.0.1", 0,
        http -> new LocalCluster(List.of(new AgentRef(destination.node.name(), destination.url())), http),
        MigrationSettings.defaults(), LocalModeBed.oneToken(TOKEN)).await();
    // the destination is a configured peer of the source: only then does the peer token go there
    CoordinatorSecurity tokens = LocalModeBed.oneToken(TOKEN);
    Coordinator here = Coordinator.start(bed.vertx(), "127.0.0.1", 0,
        http -> new LocalCluster(List.of(new AgentRef(source.node.name(), source.url())), http),
        MigrationSettings.defaults(), new CoordinatorSecurity(tokens.access(), tokens.tls(),
            tokens.outgoing().withPeers(java.util.Map.of(there.url(), Optional.empty())))).await();
    try {
      MemServiceClient.Answer before = launchMemService(source, "crosser", SERVICE_PORT + 2, 32);

      Answer done = HTTP.post(here.url() + "/migrate",
          new JsonObject().put("name", "crosser").put("destinationUrl", there.url()));

      assertThat(done.status()).as(done.body()).isEqualTo(200);
      assertThat(done.json().getJsonObject("destination").getString("clusterId")).isEqualTo(there.clusterId());
      MemServiceClient.Answer after = MemServiceClient.verify(destination.node.address(), SERVICE_PORT + 2, 5000);
      assertThat(after.checksum()).isEqualTo(before.checksum());
      assertThat(after.counter()).isGreaterThanOrEqualTo(before.counter());
      assertThat(HTTP.get(there.url() + "/list").json().getJsonArray("workloads").stream()
          .map(w -> ((JsonObject) w).getString("name")).toList()).contains("crosser");
    } finally {
      here.close().await();
      there.close().await();
    }
  }

  @Test
  void aDestinationAgentKilledMidTransferIs502AndTheSourceRunsOn() throws Exception {
    AgentNode source = agents.get(0);
    AgentNode destination = agents.get(1);
    MemServiceClient.Answer before = launchMemService(source, "victim", SERVICE_PORT + 3, MEMORY_MIB);
    network.limitRate("200mbit"); // about 5 s for 128 MiB: time to cut it in the middle

    Answer accepted = HTTP.post(coordinator.url() + "/migrations",
        new JsonObject().put("name", "victim").put("destinationUrl", coordinator.url()));
    assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
    String status = coordinator.url() + "/migrations/" + accepted.json().getString("migrationId");
    // pages stream while CRIU dumps: wait on the source agent until 16 MiB have left, then cut
    String agentMigration = await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20))
        .until(() -> HTTP.get(status).json().getJsonArray("events").stream().map(JsonObject.class::cast)
            .map(e -> e.getString("agentMigrationId")).filter(java.util.Objects::nonNull).findFirst().orElse(null),
            java.util.Objects::nonNull);
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> HTTP.get(source.url() + "/v1/migrations/" + agentMigration).json()
            .getJsonObject("bytes").getLong("pages"), pages -> pages >= 16L << 20);
    destination.kill();

    JsonObject failed = await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(50))
        .until(() -> HTTP.get(status).json(), s -> "ROLLED_BACK".equals(s.getString("state")));
    network.limitRate("unlimited");
    assertThat(failed.getJsonObject("error").getString("error")).isEqualTo("PEER_FAILED");
    assertThat(failed.getJsonObject("error").getString("message")).contains("source agent ROLLED_BACK");
    MemServiceClient.Answer resumed = await().atMost(Duration.ofSeconds(5)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(source.node.address(), SERVICE_PORT + 3, 1000), any -> true);
    assertThat(resumed.checksum()).isEqualTo(before.checksum());
    assertThat(HTTP.get(coordinator.url() + "/list").json().getJsonArray("workloads").stream()
        .map(JsonObject.class::cast).filter(w -> "victim".equals(w.getString("name"))).findFirst().orElseThrow()
        .getBoolean("migratable")).as("lock released").isTrue();
  }

  @Test
  void aDestinationAgentKilledDuringPostCopyLeavesTheWorkloadOnTheSourceFromTheFreezePoint() throws Exception {
    AgentNode source = agents.get(0);
    AgentNode destination = agents.get(1);
    int port = SERVICE_PORT + 4;
    MemServiceClient.Answer before = launchMemService(source, "lazy", port, MEMORY_MIB);
    network.limitRate("100mbit"); // the background push of 128 MiB takes seconds: time to kill in the middle

    Answer accepted = HTTP.post(coordinator.url() + "/migrations", new JsonObject().put("name", "lazy")
        .put("destinationUrl", coordinator.url()).put("mode", "post-copy"));
    assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
    String status = coordinator.url() + "/migrations/" + accepted.json().getString("migrationId");
    String agentMigration = await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20))
        .until(() -> HTTP.get(status).json().getJsonArray("events").stream().map(JsonObject.class::cast)
            .map(e -> e.getString("agentMigrationId")).filter(java.util.Objects::nonNull).findFirst().orElse(null),
            java.util.Objects::nonNull);
    // the destination runs the workload and asks for pages: post-copy has begun
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> HTTP.get(source.url() + "/v1/migrations/" + agentMigration).json()
            .getJsonObject("postCopy").getString("state"), state -> state.startsWith("post-copy"));
    destination.kill();

    JsonObject failed = await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(50))
        .until(() -> HTTP.get(status).json(), s -> "ROLLED_BACK".equals(s.getString("state")));
    network.limitRate("unlimited");
    System.out.println("destination agent killed during post-copy: " + failed.getJsonObject("error"));
    assertThat(failed.getJsonObject("error").getString("error")).isEqualTo("PEER_FAILED");
    assertThat(failed.getJsonObject("error").getString("message"))
        .contains("resumed on the source from the freeze point").contains("work is lost");
    MemServiceClient.Answer resumed = await().atMost(Duration.ofSeconds(5)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(source.node.address(), port, 1000), any -> true);
    assertThat(resumed.checksum()).isEqualTo(before.checksum());
    assertThat(resumed.counter()).isGreaterThanOrEqualTo(before.counter());
    assertThat(answers(destination.node.address(), port)).as("the destination's copy is gone: it runs once").isFalse();
  }

  private static boolean answers(String address, int port) {
    try {
      MemServiceClient.query(address, port, 500);
      return true;
    } catch (Exception e) {
      return false;
    }
  }

  private MemServiceClient.Answer launchMemService(AgentNode agent, String name, int port, int mib) {
    return bed.launchMemService(agent, name, port, mib);
  }

  private static void importImage(AgentNode agent, String name, Path tarball, String base) {
    JsonObject body = new JsonObject().put("name", name).put("rootfs", tarball.toString());
    if (base != null) {
      body.put("base", base);
    }
    Answer imported = HTTP.post(agent.url() + "/v1/images", body);
    assertThat(imported.status()).as(imported.body()).isEqualTo(201);
  }

  /** An unmodified Debian redis-server, moved by name through POST /migrate, its data read on the destination. */
  @Test
  void migratesAnUnmodifiedRedisByName() throws Exception {
    AgentNode source = agents.get(0);
    AgentNode destination = agents.get(1);
    Answer launched = HTTP.post(source.url() + "/v1/workloads", new JsonObject().put("name", "redis")
        .put("command", new JsonArray().add("/usr/bin/redis-server").add("--port").add(Integer.toString(REDIS_PORT))
            .add("--save").add("").add("--appendonly").add("no").add("--protected-mode").add("no")));
    assertThat(launched.status()).as(launched.body()).isEqualTo(201);
    bed.launched(launched.json().getLong("pid"));
    await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> redisCli(source, "PING"), "PONG"::equals);
    Path input = dir.resolve("keys.txt");
    StringBuilder commands = new StringBuilder();
    for (int i = 0; i < 10_000; i++) {
      commands.append("SET key:").append(i).append(" value-").append(i).append('\n');
    }
    java.nio.file.Files.writeString(input, commands);
    Process pipe = new ProcessBuilder("/usr/bin/redis-cli", "-h", source.node.address(), "-p",
        Integer.toString(REDIS_PORT), "--pipe").redirectInput(input.toFile()).redirectErrorStream(true).start();
    assertThat(new String(pipe.getInputStream().readAllBytes())).contains("errors: 0, replies: 10000");

    Answer done = HTTP.post(coordinator.url() + "/migrate", new JsonObject().put("name", "redis")
        .put("destinationUrl", coordinator.url()));

    assertThat(done.status()).as(done.body() + "\nsource agent log:\n" + source.log()).isEqualTo(200);
    System.out.println("POST /migrate redis answered: " + done.json().encode());
    assertThat(done.json().getJsonObject("destination").getString("node")).isEqualTo(destination.node.name());
    assertThat(redisCli(destination, "DBSIZE")).isEqualTo("10000");
    assertThat(redisCli(destination, "GET", "key:9999")).isEqualTo("value-9999");
    assertThat(names(source)).doesNotContain("redis");
    assertThat(names(destination)).contains("redis");
  }

  private static String redisCli(AgentNode agent, String... command) throws Exception {
    List<String> args = new ArrayList<>(List.of("/usr/bin/redis-cli", "-h", agent.node.address(), "-p",
        Integer.toString(REDIS_PORT)));
    args.addAll(List.of(command));
    Process process = new ProcessBuilder(args).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes()).strip();
    assertThat(process.waitFor(10, TimeUnit.SECONDS) && process.exitValue() == 0).as(output).isTrue();
    return output;
  }

  private static List<String> names(AgentNode agent) {
    return LocalModeBed.names(agent);
  }
}
