package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.agent.criu.ProcessTree;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * What the tests with real programs nobody wrote for UMS share: where Debian installs them, the ports they
 * serve on in node A and B, how a client talks to them, and what a finished move must look like.
 */
final class RealPrograms {
  static final String PYTHON = "/usr/bin/python3";
  static final String REDIS = "/usr/bin/redis-server";
  static final String REDIS_CLI = "/usr/bin/redis-cli";
  static final int REDIS_PORT = 16379;
  static final int HTTP_PORT = 18080;
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  private RealPrograms() {}

  /**
   * The move from node A to {@code to} finished: DONE, the source process gone, the restored workload
   * running, nothing of the workload left on A and nothing of the migration left on either agent.
   * Returns the restored workload.
   */
  static JsonObject assertMovedTo(MigrationTestBed bed, AgentProcess to, JsonObject status, JsonObject workload)
      throws Exception {
    System.out.println(workload.getString("name") + " migrated: " + status.encode());
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
    assertThat(ProcessTree.alive(workload.getLong("pid"))).as("source process").isFalse();
    JsonObject restored = to.get("/v1/workloads/" + status.getString("destinationWorkloadId"));
    assertThat(restored.getString("status")).isEqualTo("RUNNING");
    assertThat(bed.workloads(bed.a)).isEmpty();
    bed.assertNothingLeftBehind(bed.a, bed.b);
    return restored;
  }

  /** GET {@code path} on the node's {@link #HTTP_PORT}; the body of a 200. */
  static String httpGet(AgentProcess agent, String path) throws Exception {
    HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create("http://" + agent.node.address()
        + ":" + HTTP_PORT + path)).timeout(Duration.ofSeconds(3)).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    return response.body();
  }

  /** One RESP command as an inline command; the first line of the reply. */
  static String resp(Socket socket, String command) throws IOException {
    OutputStream out = socket.getOutputStream();
    out.write((command + "\r\n").getBytes(StandardCharsets.US_ASCII));
    out.flush();
    return readLine(socket.getInputStream());
  }

  /** One line up to '\n', without its '\r'; fails when the connection ends first. */
  static String readLine(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    for (int c = in.read(); c != '\n'; c = in.read()) {
      if (c < 0) {
        throw new IOException("connection closed");
      }
      if (c != '\r') {
        line.append((char) c);
      }
    }
    return line.toString();
  }
}
