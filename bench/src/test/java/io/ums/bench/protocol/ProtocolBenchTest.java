package io.ums.bench.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A small real run of every transfer of the bench; checks the JSON a script reads (no timing asserted). */
class ProtocolBenchTest {
  @TempDir
  Path dir;

  @Test
  void smallRunWritesEveryResultAndTheRatios() throws Exception {
    Path json = dir.resolve("protocol.json");
    long bytes = 8L * 1024 * 1024;

    assertThat(ProtocolBench.run(json, bytes)).isZero();

    JsonObject report = new JsonObject(Files.readString(json));
    JsonArray results = report.getJsonArray("results");
    assertThat(results).hasSize(7);
    for (int i = 0; i < results.size(); i++) {
      JsonObject result = results.getJsonObject(i);
      assertThat(result.fieldNames()).contains("name", "bytes", "seconds", "mbPerSec");
      assertThat(result.getLong("bytes")).isEqualTo(bytes);
      assertThat(result.getDouble("mbPerSec")).isPositive();
    }
    assertThat(results.stream().map(r -> ((JsonObject) r).getString("name")))
        .containsExactly("raw-vertx-netsocket", "ums-1-channel", "ums-4-channels", "ums-lz4-random",
            "ums-1-channel-tls", "ums-4-channels-tls", "blocking-java-socket");
    assertThat(report.getJsonObject("ratios").fieldNames())
        .containsExactlyInAnyOrder("oneChannelVsRaw", "fourChannelsVsRaw", "lz4VsRaw", "tlsOneChannelVsRaw",
            "tlsFourChannelsVsRaw", "tlsOneChannelVsPlain");
    assertThat(report.getString("tlsProvider")).isNotBlank();
  }
}
