package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A client outside the node (this test, in the root network namespace) waits for the answer to a request
 * the source's kernel had already acknowledged when the source was frozen (issue 15, item 6). Its
 * connection cannot follow (its local address is node A's) and is restored closed on B; the client must
 * then be told at once (reset or end-of-file) instead of waiting for its read timeout, two real agents and
 * real CRIU between.
 */
@Tag("slow")
class OutsideClientResetTest extends MigrationBedTest {
  private static final int PORT = 17301;
  /** Answers "pong" to "ping" at once, and "slow" a minute later: a request in flight across the freeze. */
  private static final String SERVER = """
      import socket, threading, time
      def serve(client):
          for line in client.makefile("r"):
              if line.strip() == "slow":
                  time.sleep(60)
              client.sendall(b"pong\\n")
      server = socket.create_server(("0.0.0.0", %d))
      while True:
          client, _ = server.accept()
          threading.Thread(target=serve, args=(client,), daemon=True).start()
      """.formatted(PORT);
  /** Far longer than a reset takes to arrive, far shorter than the server's minute. */
  private static final int READ_TIMEOUT_MILLIS = 20_000;

  @Test
  void aClientWaitingForAnAnswerAcrossTheFreezeIsResetWhenTheSourceGoes() throws Exception {
    bed = new MigrationTestBed(dir, "uor", List.of(), List.of(), 10);
    JsonObject workload = launchSlowServer();
    try (WaitingClient client = WaitingClient.inFlight(bed.a)) {
      JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));
      assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");

      assertThat(client.whatItGets()).as("what the waiting client got").isIn("reset", "end of file");
    }
    // and the service answers on B to a client that reconnects
    try (Socket again = connect(bed.b)) {
      again.getOutputStream().write("ping\n".getBytes(StandardCharsets.US_ASCII));
      assertThat(new BufferedReader(new InputStreamReader(again.getInputStream(), StandardCharsets.UTF_8))
          .readLine()).isEqualTo("pong");
    }
  }

  /**
   * The same client, but the source agent dies after the destination restored, while it holds the frozen
   * source for its commit: the restarted agent kills the held source on the coordinator's verdict, and the
   * client must be told then, as when the agent commits itself.
   */
  @Test
  void aClientWaitingAcrossTheFreezeIsResetWhenARestartedSourceAgentKillsTheHeldSource() throws Exception {
    bed = new MigrationTestBed(dir, "uos", List.of("-Dums.test.holdBeforeCommit=true"), List.of(), 10);
    JsonObject workload = launchSlowServer();
    try (WaitingClient client = WaitingClient.inFlight(bed.a)) {
      JsonObject session = bed.receive(bed.b);
      String migration = bed.send(bed.a, workload.getString("id"), session);
      JsonObject restored = bed.awaitFinal(bed.b, session.getString("sessionId"), Duration.ofSeconds(120));
      assertThat(restored.getString("phase")).as(restored.encode()).isEqualTo("DONE");
      Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> bed.a.log().contains("holds before its commit"));
      bed.a.kill();
      bed.a.start(10);
      JsonObject outcome = bed.a.post("/v1/stopped-sources/" + migration + "/kill", new JsonObject(), 200);
      assertThat(outcome.getString("outcome")).isEqualTo("killed");

      assertThat(client.whatItGets()).as("what the waiting client got").isIn("reset", "end of file");
    }
  }

  private JsonObject launchSlowServer() throws Exception {
    Path script = Files.writeString(dir.resolve("server.py"), SERVER);
    return bed.launch(bed.a, "slow-server", List.of("/usr/bin/python3", script.toString()));
  }

  /** A client whose "slow" request A's kernel acknowledged: in flight when the source is frozen. */
  private record WaitingClient(Socket socket, BufferedReader in) implements AutoCloseable {
    static WaitingClient inFlight(AgentProcess agent) throws Exception {
      Socket socket = Awaitility.await().ignoreExceptions().until(() -> connect(agent), connected -> true);
      BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      OutputStream out = socket.getOutputStream();
      out.write("ping\n".getBytes(StandardCharsets.US_ASCII));
      assertThat(in.readLine()).isEqualTo("pong");
      out.write("slow\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      return new WaitingClient(socket, in);
    }

    String whatItGets() throws Exception {
      socket.setSoTimeout(READ_TIMEOUT_MILLIS);
      try {
        return in.readLine() == null ? "end of file" : "an answer";
      } catch (SocketTimeoutException e) {
        return "nothing until its read timeout";
      } catch (SocketException e) {
        return "reset";
      }
    }

    @Override
    public void close() throws Exception {
      socket.close();
    }
  }

  private static Socket connect(AgentProcess agent) throws Exception {
    Socket socket = new Socket();
    socket.connect(new InetSocketAddress(agent.node.address(), PORT), 2000);
    socket.setSoTimeout(5000);
    return socket;
  }
}
