package io.ums.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.agent.AgentHttp.Reply;
import io.ums.agent.workload.ProcessIdentity;
import io.ums.agent.workload.WorkloadBusyException;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control API of an agent running in this JVM, over real HTTP, launching real processes in their own
 * PID namespaces. The migration engine is the 503 stand-in: these tests are about the API itself.
 */
class ControlApiTest {
  @TempDir
  Path workDir;
  private Agent agent;
  private AgentHttp http;

  @BeforeEach
  void startAgent() throws Exception {
    agent = Agent.start(AgentConfig.local("node-t", workDir), UnavailableMigrations::start)
        .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    http = new AgentHttp(agent.controlPort());
  }

  @AfterEach
  void stopAgent() throws Exception {
    if (agent != null) {
      for (Object workload : http.get("/v1/workloads").array()) {
        agent.workloads().endMigration(((JsonObject) workload).getString("id"));
        http.delete("/v1/workloads/" + ((JsonObject) workload).getString("id"));
      }
      agent.shutdown().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  /**
   * The control server does not set SO_REUSEPORT (nor does anything else in the agent): a second agent on a
   * control port in use fails its start, never says "up", and the first keeps every connection to that port.
   * With the option, the kernel would spread new connections over both listeners, a dead one's backlog
   * included.
   */
  @Test
  void aSecondAgentOnAControlPortInUseFailsToStart(@TempDir Path otherWorkDir) throws Exception {
    AgentConfig second = new AgentConfig("node-t2", "127.0.0.1", "127.0.0.1", agent.controlPort(), 0, otherWorkDir,
        java.util.Optional.empty(), java.util.Optional.empty(), Duration.ofSeconds(1));

    var start = Agent.start(second, UnavailableMigrations::start).toCompletionStage().toCompletableFuture();

    assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> start.get(30, TimeUnit.SECONDS)))
        .hasStackTraceContaining("Address already in use");
    for (int i = 0; i < 20; i++) {
      assertThat(http.get("/health").json().getString("status")).isEqualTo("UP");
    }
  }

  @Test
  void healthInfoAndMetricsAnswer() {
    assertThat(http.get("/health").json().getString("status")).isEqualTo("UP");

    JsonObject info = http.get("/v1/info").json();
    assertThat(info.getString("node")).isEqualTo("node-t");
    assertThat(info.getString("arch")).isNotBlank();
    assertThat(info.getString("kernel")).isEqualTo(System.getProperty("os.version"));
    assertThat(info.getString("dataAddress")).startsWith("127.0.0.1:");
    assertThat(info.getJsonArray("runtimes")).contains("process", "runc", "podman").doesNotContain("kubelet"); // both installed here by setup
    JsonObject criu = info.getJsonObject("criu");
    assertThat(criu.getString("version")).startsWith("4.2.");
    assertThat(criu.getBoolean("ok")).isTrue();
    assertThat(criu.getBoolean("lazyPages")).isTrue();
    assertThat(criu.getBoolean("dirtyTracking")).isFalse();

    Reply metrics = http.get("/metrics");
    assertThat(metrics.status()).isEqualTo(200);
    assertThat(metrics.contentType()).startsWith("text/plain");
    assertThat(metrics.body()).contains("ums_workloads{status=\"RUNNING\"} 0.0", "vertx_http_server_requests_total",
        "jvm_memory_used_bytes");
  }

  @Test
  void badBodiesAnswer400NamingTheField() {
    assertError(http.post("/v1/workloads", "{\"name\":"), 400, "BAD_REQUEST", "body: not valid JSON");
    assertError(http.post("/v1/workloads", "[]"), 400, "BAD_REQUEST", "body: must be a JSON object");
    assertError(http.post("/v1/workloads", new JsonObject().put("command", "x")), 400, "BAD_REQUEST", "name:");
    assertError(http.post("/v1/workloads", AgentHttp.workload("w")), 400, "BAD_REQUEST", "command:");
    assertError(http.post("/v1/workloads", AgentHttp.workload("w", "/no/such/binary")), 400, "BAD_REQUEST",
        "command[0]: /no/such/binary is not an executable file");
    assertError(http.post("/v1/workloads", AgentHttp.workload("w", "/bin/true").put("kind", "container")
        .put("runtime", "runc").put("image", "busybox")), 400, "BAD_REQUEST", "image: no image named \"busybox\"");
    assertError(http.post("/v1/send", new JsonObject().put("workloadId", "w-x")), 400, "BAD_REQUEST",
        "destination: required");
    assertError(http.post("/v1/receive", new JsonObject().put("kind", 3)), 400, "BAD_REQUEST", "kind:");
    assertError(http.post("/v1/workloads", "{\"name\":\"" + "x".repeat(2 << 20) + "\"}"), 400, "BAD_REQUEST",
        "body: larger than");
    assertThat(http.get("/v1/workloads").array()).isEmpty();
  }

  /** A NUL byte answered 500 with the JVM's exception text (issue 15, item 9). */
  @Test
  void aNulByteInCommandOrEnvAnswers400NamingTheField() {
    assertError(http.post("/v1/workloads", AgentHttp.workload("w", "/bin/echo", "a\0b")), 400, "BAD_REQUEST",
        "command[1]: must not contain a NUL byte");
    assertError(http.post("/v1/workloads", AgentHttp.workload("w", "/bin/echo\0x")), 400, "BAD_REQUEST",
        "command[0]: must not contain a NUL byte");
    assertError(http.post("/v1/workloads", AgentHttp.workload("w", "/bin/true").put("env", new JsonObject()
        .put("GREETING", "h\0i"))), 400, "BAD_REQUEST", "env.GREETING: must not contain a NUL byte");
    assertError(http.post("/v1/workloads", AgentHttp.workload("w", "/bin/true").put("env", new JsonObject()
        .put("GREE\0TING", "hi"))), 400, "BAD_REQUEST", "env: a variable name must not contain a NUL byte");
    assertThat(http.get("/v1/workloads").array()).isEmpty();
  }

  @Test
  void unknownIdsAnswer404() {
    assertError(http.get("/v1/workloads/w-none"), 404, "NOT_FOUND", "w-none");
    assertError(http.get("/v1/workloads/w-none/logs"), 404, "NOT_FOUND", "w-none");
    assertError(http.delete("/v1/workloads/w-none"), 404, "NOT_FOUND", "w-none");
    assertError(http.get("/v1/migrations/m-none"), 404, "NOT_FOUND", "m-none");
    assertError(http.post("/v1/send", sendBody("w-none")), 404, "NOT_FOUND", "w-none");
    assertError(http.get("/v1/nothing-here"), 404, "NOT_FOUND", "/v1/nothing-here");
  }

  @Test
  void migrationsAnswer503UntilTheEngineIsWired() {
    assertError(http.post("/v1/receive", new JsonObject()), 503, "UNAVAILABLE", "migration engine not available");
  }

  @Test
  void aWorkloadAlreadyMigratingAnswers409() throws Exception {
    JsonObject workload = launch(AgentHttp.workload("sleeper", "/bin/sleep", "600"));
    String id = workload.getString("id");
    agent.workloads().beginMigration(id, "m-1").toCompletionStage().toCompletableFuture().get();

    Throwable second = agent.workloads().beginMigration(id, "m-2").toCompletionStage().toCompletableFuture()
        .handle((ok, failure) -> failure).get();
    assertThat(second).isInstanceOf(WorkloadBusyException.class).hasMessageContaining("m-1");
    assertThat(http.get("/v1/workloads/" + id).json().getString("status")).isEqualTo("MIGRATING");
    assertThat(http.get("/v1/workloads/" + id).json().getBoolean("migratable")).isFalse();
    assertError(http.post("/v1/send", sendBody(id)), 409, "CONFLICT", "already migrating");
    assertError(http.delete("/v1/workloads/" + id), 409, "CONFLICT", "m-1");

    agent.workloads().endMigration(id);
    assertThat(http.get("/v1/workloads/" + id).json().getString("status")).isEqualTo("RUNNING");
    assertThat(http.delete("/v1/workloads/" + id).status()).isEqualTo(204);
  }

  @Test
  void aWorkloadRunsAsInitOfItsOwnPidNamespaceWithItsOutputInItsLog() throws Exception {
    JsonObject workload = launch(AgentHttp.workload("talker", "/bin/sh", "-c",
        "echo to-stdout; echo to-stderr >&2; exec sleep 600").put("env", new JsonObject().put("GREETING", "hi")));
    String id = workload.getString("id");
    long pid = workload.getLong("pid");
    assertThat(workload.getString("status")).isEqualTo("RUNNING");
    assertThat(workload.getString("node")).isEqualTo("node-t");
    assertThat(workload.getValue("restoredFrom")).isNull();
    assertThat(http.get("/v1/workloads").array()).hasSize(1);

    // the host PID we report is the namespace's PID 1, the task CRIU dumps
    String status = java.nio.file.Files.readString(Path.of("/proc", Long.toString(pid), "status"));
    assertThat(status).containsPattern("NSpid:\\s+" + pid + "\\s+1\\n");
    assertThat(java.nio.file.Files.readString(Path.of("/proc", Long.toString(pid), "environ")))
        .contains("GREETING=hi");
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(http.get("/v1/workloads/" + id + "/logs")
        .body()).contains("to-stdout\n", "to-stderr\n"));

    ProcessIdentity init = ProcessIdentity.of(pid).orElseThrow();
    assertThat(http.delete("/v1/workloads/" + id).status()).isEqualTo(204);
    assertThat(init.alive()).isFalse();
    assertError(http.get("/v1/workloads/" + id), 404, "NOT_FOUND", id);
    assertThat(workDir.resolve("workloads").resolve(id)).doesNotExist();
  }

  @Test
  void aWorkloadThatEndsIsReportedExited() {
    String id = launch(AgentHttp.workload("brief", "/bin/sh", "-c", "echo bye")).getString("id");
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(http.get("/v1/workloads/" + id).json().getString("status")).isEqualTo("EXITED"));
    assertThat(http.get("/v1/workloads/" + id + "/logs").body()).isEqualTo("bye\n");
    assertThat(http.get("/metrics").body()).contains("ums_workloads{status=\"EXITED\"} 1.0");
  }

  private JsonObject launch(JsonObject body) {
    Reply reply = http.post("/v1/workloads", body);
    assertThat(reply.status()).as(reply.toString()).isEqualTo(201);
    return reply.json();
  }

  private static JsonObject sendBody(String workloadId) {
    return new JsonObject().put("workloadId", workloadId).put("destination", new JsonObject()
        .put("address", "127.0.0.1:7071").put("sessionId", "s-1").put("token", "dG9rZW4="));
  }

  static void assertError(Reply reply, int status, String code, String messagePart) {
    assertThat(reply.status()).as(reply.toString()).isEqualTo(status);
    assertThat(reply.contentType()).startsWith("application/json");
    JsonObject body = reply.json();
    assertThat(body.getString("error")).isEqualTo(code);
    assertThat(body.getString("message")).contains(messagePart).doesNotContain("\tat ", "Exception:");
  }
}
