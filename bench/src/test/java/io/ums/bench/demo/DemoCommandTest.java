package io.ums.bench.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.bench.HostLeftovers;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ./ums demo} end to end: real netns nodes, real agents and coordinator, real CRIU, then nothing left. */
@Tag("slow")
class DemoCommandTest {
  private static final String PREFIX = "umsdt";

  @Test
  void migratesTheServiceVerifiesItAndCleansUp(@TempDir Path dir) throws Exception {
    List<Path> scratchBefore = HostLeftovers.scratchDirectories("ums-demo-");
    Path report = dir.resolve("demo.json");

    // 64 MiB instead of the demo's 256 keeps CI short; the path is the same
    int exit = new CommandLine(new DemoCommand())
        .execute("--json", report.toString(), "--size", "64", "--netns-prefix", PREFIX);

    JsonObject json = new JsonObject(Files.readString(report));
    assertThat(json.getString("error")).as("demo error").isNull();
    assertThat(exit).isZero();
    assertThat(json.getBoolean("ok")).isTrue();
    assertThat(json.getBoolean("checksumOk")).isTrue();
    assertThat(json.getBoolean("counterContinued")).isTrue();
    assertThat(json.getDouble("downtimeMs")).isPositive();
    assertThat(json.getDouble("totalMs")).isGreaterThanOrEqualTo(json.getDouble("downtimeMs"));
    assertThat(json.getJsonObject("overhead").fieldNames()).contains("checkpoint", "transfer", "restore", "total");

    assertThat(HostLeftovers.namespaces(PREFIX)).isEmpty();
    assertThat(HostLeftovers.links(PREFIX)).isEmpty();
    assertThat(HostLeftovers.processes("ums-demo-")).as("workload, agents left running").isEmpty();
    assertThat(HostLeftovers.scratchDirectories("ums-demo-")).containsExactlyInAnyOrderElementsOf(scratchBefore);
  }
}
