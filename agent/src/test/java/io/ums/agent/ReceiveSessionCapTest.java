package io.ums.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.agent.AgentHttp.Reply;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An agent in this JVM with its real migration engine (data plane on a real port) and a cap of two receive
 * sessions: a third answers 429 naming the limit, and a session that ends makes room (issue 15, item 9:
 * receive sessions had no cap, so anyone reaching the API could pile up sessions).
 */
class ReceiveSessionCapTest {
  @TempDir
  Path workDir;
  private Agent agent;
  private AgentHttp http;

  @BeforeEach
  void startAgent() throws Exception {
    agent = Agent.start(AgentConfig.local("node-cap", workDir).withMaxReceiveSessions(2), AgentMain.MIGRATIONS)
        .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    http = new AgentHttp(agent.controlPort());
  }

  @AfterEach
  void stopAgent() throws Exception {
    if (agent != null) {
      agent.shutdown().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }
  }

  @Test
  void aReceiveSessionBeyondTheCapAnswers429UntilOneEnds() {
    String first = open().getString("sessionId");
    open();

    Reply refused = http.post("/v1/receive", new JsonObject().put("kind", "process"));
    ControlApiTest.assertError(refused, 429, "TOO_MANY_SESSIONS", "node node-cap already holds 2 receive sessions");
    assertThat(refused.json().getString("message")).contains("--max-receive-sessions 2");

    assertThat(http.post("/v1/migrations/" + first + "/abort", new JsonObject()).status()).isEqualTo(202);
    await().atMost(Duration.ofSeconds(30)).until(() -> http.post("/v1/receive",
        new JsonObject().put("kind", "process")).status() == 201);
  }

  private JsonObject open() {
    Reply reply = http.post("/v1/receive", new JsonObject().put("kind", "process"));
    assertThat(reply.status()).as(reply.toString()).isEqualTo(201);
    return reply.json();
  }
}
