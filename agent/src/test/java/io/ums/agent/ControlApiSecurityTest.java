package io.ums.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ums.agent.api.ControlSecurity;
import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ClientTls;
import io.ums.testkit.TestCertificates;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control API's bearer token and TLS, on a real agent in this JVM over real sockets (the migration
 * engine is the 503 stand-in: this is about who gets in, not what they do).
 */
class ControlApiSecurityTest {
  private static final BearerToken TOKEN = BearerToken.random();

  @TempDir
  Path workDir;
  private Agent agent;

  private Agent start(ControlSecurity security) throws Exception {
    agent = Agent.start(AgentConfig.local("node-s", workDir.resolve("agent")).withControlSecurity(security),
        UnavailableMigrations::start).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    return agent;
  }

  @AfterEach
  void stop() throws Exception {
    if (agent != null) {
      agent.shutdown().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void everyRouteButHealthAndMetricsNeedsTheToken() throws Exception {
    String base = "http://127.0.0.1:" + start(ControlSecurity.withToken(TOKEN)).controlPort();
    HttpClient client = HttpClient.newHttpClient();

    HttpResponse<String> none = client.send(get(base + "/v1/info").build(), HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> wrong = client.send(get(base + "/v1/info").header("Authorization", "Bearer "
        + TOKEN.value() + "x").build(), HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> right = client.send(get(base + "/v1/info").header("Authorization", TOKEN.authorization())
        .build(), HttpResponse.BodyHandlers.ofString());

    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(new JsonObject(none.body()).getString("error")).isEqualTo("UNAUTHORIZED");
    assertThat(new JsonObject(none.body()).getString("message")).contains("Authorization: Bearer", "GET /v1/info");
    assertThat(none.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"ums-agent\"");
    assertThat(wrong.statusCode()).isEqualTo(401);
    assertThat(new JsonObject(wrong.body()).getString("message")).contains("not accepted");
    assertThat(wrong.headers().firstValue("WWW-Authenticate").orElseThrow()).contains("invalid_token");
    assertThat(none.body() + wrong.body()).doesNotContain(TOKEN.value());
    assertThat(right.statusCode()).as(right.body()).isEqualTo(200);
    assertThat(new JsonObject(right.body()).getString("node")).isEqualTo("node-s");

    // a write with a body is refused before the body matters; routes mounted after ControlApi's are guarded too
    HttpResponse<String> launch = client.send(HttpRequest.newBuilder(URI.create(base + "/v1/workloads"))
        .POST(HttpRequest.BodyPublishers.ofString(AgentHttp.workload("w", "/bin/sleep", "60").encode())).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(launch.statusCode()).isEqualTo(401);
    assertThat(agent.workloads().list()).isEmpty();
    assertThat(client.send(get(base + "/v1/images").build(), HttpResponse.BodyHandlers.ofString()).statusCode())
        .isEqualTo(401);

    assertThat(client.send(get(base + "/health").build(), HttpResponse.BodyHandlers.ofString()).statusCode())
        .isEqualTo(200);
    assertThat(client.send(get(base + "/metrics").build(), HttpResponse.BodyHandlers.ofString()).statusCode())
        .isEqualTo(200);
  }

  @Test
  void withoutATokenTheApiStaysOpen() throws Exception {
    String base = "http://127.0.0.1:" + start(ControlSecurity.open()).controlPort();

    HttpResponse<String> info = HttpClient.newHttpClient().send(get(base + "/v1/info").build(),
        HttpResponse.BodyHandlers.ofString());

    assertThat(info.statusCode()).isEqualTo(200);
  }

  @Test
  void withTlsOnlyAClientTrustingTheCaGetsIn() throws Exception {
    TestCertificates pki = TestCertificates.authority(workDir.resolve("pki"), "ums-test-ca");
    int port = start(ControlSecurity.withToken(TOKEN).withTls(pki.server("agent", List.of("127.0.0.1"))))
        .controlPort();
    String base = "https://127.0.0.1:" + port;
    HttpClient trusting = HttpClient.newBuilder()
        .sslContext(ClientTls.trusting(pki.caCertificate()).verified().sslContext()).build();

    HttpResponse<String> info = trusting.send(get(base + "/v1/info").header("Authorization", TOKEN.authorization())
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(info.statusCode()).as(info.body()).isEqualTo(200);
    assertThat(trusting.send(get(base + "/v1/info").build(), HttpResponse.BodyHandlers.ofString()).statusCode())
        .isEqualTo(401);

    HttpClient jvmDefault = HttpClient.newBuilder().sslContext(ClientTls.jvmDefault().sslContext()).build();
    assertThatThrownBy(() -> jvmDefault.send(get(base + "/health").build(), HttpResponse.BodyHandlers.ofString()))
        .isInstanceOf(SSLHandshakeException.class);
    // plain HTTP to the TLS port gets nowhere either
    assertThatThrownBy(() -> HttpClient.newHttpClient().send(get("http://127.0.0.1:" + port + "/health").build(),
        HttpResponse.BodyHandlers.ofString())).isInstanceOf(IOException.class);
  }

  private static HttpRequest.Builder get(String url) {
    return HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).GET();
  }
}
