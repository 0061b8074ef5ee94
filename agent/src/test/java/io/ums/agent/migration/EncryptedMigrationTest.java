package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Pages under TLS between two real agents (PROTOCOL.md 2.4): two agent JVMs in two network namespaces,
 * real CRIU, a shell whose memory holds a secret. The data connection goes through a relay in the root
 * namespace that records what the source sends, as someone tapping the link would: in clear the secret
 * crosses the wire, with {@code encrypt: true} it does not, and the migration succeeds either way.
 */
@Tag("slow")
class EncryptedMigrationTest extends MigrationBedTest {
  @Test
  void aSecretInTheProcessCrossesTheWireInClearButNotEncrypted() throws Exception {
    bed = new MigrationTestBed(dir, List.of(), List.of(), 10);
    String secret = "SECRET-" + UUID.randomUUID();
    JsonObject workload = bed.launch(bed.a, "holder", List.of("/bin/sh", "-c",
        "secret=" + secret + "; i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done"));
    awaitTicks(bed.a, workload.getString("id"));

    String onB;
    try (WireTap tap = WireTap.start(bed.network.hostAddress(), bed.receive(bed.b))) {
      JsonObject status = bed.a.post("/v1/send?wait=true", tap.sendBody(workload.getString("id"), false), 200);
      assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
      onB = status.getString("destinationWorkloadId");
      assertThat(tap.recorded()).as("in clear the observer reads the process's memory").contains(secret);
    }
    awaitTicks(bed.b, onB);

    try (WireTap tap = WireTap.start(bed.network.hostAddress(), bed.receive(bed.a))) {
      JsonObject status = bed.b.post("/v1/send?wait=true", tap.sendBody(onB, true), 200);
      assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
      String backOnA = status.getString("destinationWorkloadId");
      assertThat(bed.a.get("/v1/workloads/" + backOnA).getString("status")).isEqualTo("RUNNING");
      awaitTicks(bed.a, backOnA);
      assertThat(tap.bytes()).as("the pages went through the tap").isGreaterThan(100_000);
      assertThat(tap.recorded()).as("encrypted, the observer reads nothing of it").doesNotContain(secret)
          .doesNotContain("UMSP").doesNotContain(onB);
    }
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  @Test
  void aSessionReservedEncryptedRefusesASourceSendingInClearAndTakesItEncrypted() throws Exception {
    bed = new MigrationTestBed(dir, List.of(), List.of(), 10);
    JsonObject workload = bed.launch(bed.a, "holder", List.of("/bin/sh", "-c",
        "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done"));
    String id = workload.getString("id");
    awaitTicks(bed.a, id);
    JsonObject session = bed.b.post("/v1/receive", new JsonObject().put("kind", "process").put("encrypt", true), 201);
    assertThat(session.getBoolean("encrypt")).isTrue();

    JsonObject inClear = bed.a.post("/v1/send?wait=true", MigrationTestBed.sendBody(id, session), 200);
    assertThat(inClear.getString("phase")).as(inClear.encodePrettily()).isEqualTo("ROLLED_BACK");
    assertThat(inClear.getJsonObject("error").getString("code")).isEqualTo("TLS_REQUIRED");
    assertThat(inClear.getJsonObject("error").getString("message")).contains("encrypted");
    assertThat(bed.a.get("/v1/workloads/" + id).getString("status")).isEqualTo("RUNNING");
    assertThat(bed.workloads(bed.b)).isEmpty();
    // refused before its token was looked at: the session waits for the encrypted source
    assertThat(bed.b.get("/v1/migrations/" + session.getString("sessionId")).getString("phase"))
        .isEqualTo("PREPARING");

    JsonObject body = MigrationTestBed.sendBody(id, session);
    body.getJsonObject("destination").put("encrypt", true);
    JsonObject encrypted = bed.a.post("/v1/send?wait=true", body, 200);
    assertThat(encrypted.getString("phase")).as(encrypted.encodePrettily()).isEqualTo("DONE");
    awaitTicks(bed.b, encrypted.getString("destinationWorkloadId"));
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  private static void awaitTicks(AgentProcess agent, String workloadId) {
    Awaitility.await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
        .until(() -> agent.getText("/v1/workloads/" + workloadId + "/logs").lines()
            .filter(line -> line.startsWith("tick ")).count(), ticks -> ticks >= 3);
  }

  /**
   * A TCP relay in the root namespace between the source agent and the destination's data port: it
   * forwards every byte unchanged and keeps what the source sent. One connection, two pump threads.
   */
  private static final class WireTap implements AutoCloseable {
    private final ServerSocket server;
    private final JsonObject session;
    private final ByteArrayOutputStream sent = new ByteArrayOutputStream();
    private final Thread acceptor;

    private WireTap(ServerSocket server, JsonObject session) {
      this.server = server;
      this.session = session;
      this.acceptor = new Thread(this::serve, "wire-tap");
      acceptor.setDaemon(true);
      acceptor.start();
    }

    static WireTap start(String host, JsonObject session) throws IOException {
      return new WireTap(new ServerSocket(0, 1, InetAddress.getByName(host)), session);
    }

    JsonObject sendBody(String workloadId, boolean encrypt) {
      JsonObject body = MigrationTestBed.sendBody(workloadId, session);
      body.getJsonObject("destination")
          .put("address", server.getInetAddress().getHostAddress() + ":" + server.getLocalPort())
          .put("encrypt", encrypt);
      return body;
    }

    private void serve() {
      String[] target = session.getString("dataAddress").split(":");
      try (Socket source = server.accept();
           Socket destination = new Socket(target[0], Integer.parseInt(target[1]))) {
        Thread back = new Thread(() -> pump(destination, source, null), "wire-tap-back");
        back.setDaemon(true);
        back.start();
        pump(source, destination, sent);
        back.join();
      } catch (IOException | InterruptedException e) {
        // the test's assertions say what went wrong; a closed tap ends here
      }
    }

    private static void pump(Socket from, Socket to, ByteArrayOutputStream record) {
      byte[] buffer = new byte[64 * 1024];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
          if (record != null) {
            synchronized (record) {
              record.write(buffer, 0, n);
            }
          }
          out.write(buffer, 0, n);
        }
      } catch (IOException e) {
        // the other side closed
      }
    }

    long bytes() {
      synchronized (sent) {
        return sent.size();
      }
    }

    String recorded() {
      synchronized (sent) {
        return sent.toString(StandardCharsets.ISO_8859_1);
      }
    }

    @Override
    public void close() throws IOException {
      server.close();
    }
  }
}
