package io.ums.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.agent.migration.Migrations;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Graceful shutdown of an in-process agent. The migration engine is a stand-in whose drain the test
 * completes by hand (the real engine is tested with real migrations elsewhere): while it drains, the agent
 * refuses new sessions with 503 and still answers reads.
 */
class AgentShutdownTest {
  /** An engine with one migration "in flight" until the test lets its drain complete. */
  private static final class InFlightMigrations implements Migrations {
    final Promise<Void> drained = Promise.promise();
    final AtomicReference<Duration> grace = new AtomicReference<>();

    @Override
    public Future<JsonObject> prepareReceive(JsonObject request) {
      return Future.succeededFuture(new JsonObject().put("sessionId", "s-1"));
    }

    @Override
    public Future<String> startSend(JsonObject request) {
      return Future.succeededFuture("m-1");
    }

    @Override
    public Future<JsonObject> awaitCompletion(String migrationId) {
      return Future.succeededFuture(new JsonObject());
    }

    @Override
    public Optional<JsonObject> status(String migrationId) {
      return Optional.of(new JsonObject().put("id", migrationId).put("phase", "TRANSFERRING"));
    }

    @Override
    public Future<JsonObject> abort(String migrationId) {
      return Future.succeededFuture(new JsonObject());
    }

    @Override
    public Future<Void> drain(Duration gracePeriod) {
      grace.set(gracePeriod);
      return drained.future();
    }

    @Override
    public boolean busy() {
      return !drained.future().isComplete();
    }
  }

  @Test
  void whileDrainingNewSessionsAnswer503AndReadsStillWork(@TempDir Path workDir) throws Exception {
    InFlightMigrations migrations = new InFlightMigrations();
    AgentConfig config = AgentConfig.local("node-s", workDir).withGracePeriod(Duration.ofSeconds(7));
    Agent agent = Agent.start(config, (vertx, cfg, workloads, criu) -> Future.succeededFuture(migrations))
        .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    AgentHttp http = new AgentHttp(agent.controlPort());
    assertThat(http.post("/v1/receive", new JsonObject()).status()).isEqualTo(201);

    CompletableFuture<Void> shutdown = agent.shutdown().toCompletionStage().toCompletableFuture();
    await().atMost(Duration.ofSeconds(5)).until(() -> migrations.grace.get() != null);
    assertThat(migrations.grace.get()).isEqualTo(Duration.ofSeconds(7));

    AgentHttp.Reply health = http.get("/health");
    assertThat(health.status()).isEqualTo(503);
    assertThat(health.json().getString("status")).isEqualTo("DRAINING");
    ControlApiTest.assertError(http.post("/v1/receive", new JsonObject()), 503, "DRAINING", "shutting down");
    ControlApiTest.assertError(http.post("/v1/workloads", AgentHttp.workload("late", "/bin/true")), 503,
        "DRAINING", "shutting down");
    assertThat(http.get("/v1/migrations/m-1").json().getString("phase")).isEqualTo("TRANSFERRING");
    assertThat(http.get("/v1/workloads").status()).isEqualTo(200);
    assertThat(http.get("/metrics").body()).contains("ums_agent_draining 1.0");
    assertThat(shutdown).isNotDone();

    agent.vertx().runOnContext(ignored -> migrations.drained.complete());
    shutdown.get(10, TimeUnit.SECONDS);
  }
}
