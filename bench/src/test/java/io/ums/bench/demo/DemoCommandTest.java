package io.ums.bench.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.bench.HostLeftovers;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
    // 64 MiB instead of the demo's 256 keeps CI short; the path is the same
    runDemoAndCheck(dir, "--size", "64");
  }

  @Test
  void migratesOverHttpsWithCertificatesFromAThrowAwayCa(@TempDir Path dir) throws Exception {
    // agents and coordinator serve HTTPS (the demo's JsonHttp trusts only that CA), tokens on as always
    runDemoAndCheck(dir, "--size", "32", "--tls");
  }

  @Test
  void migratesTheServiceInARuncContainerWithItsWritableLayerAndReportsTheLayerBytes(@TempDir Path dir)
      throws Exception {
    // 32 MiB: what this case adds (image import, runc, writable layer, layer bytes) does not depend on the size
    JsonObject json = runDemoAndCheck(dir, "--size", "32", "--approach", "container");

    assertThat(json.getBoolean("fileKept")).isTrue();
    // node B held no image: the busybox base and the memservice layer both went on the wire
    assertThat(json.getLong("layerBytesSent")).isGreaterThan(1L << 20);
    assertThat(json.getLong("layerBytesSkipped")).isZero();
  }

  private static JsonObject runDemoAndCheck(Path dir, String... options) throws Exception {
    Path report = dir.resolve("demo.json");
    // a scratch parent of its own: what this run leaves is told apart from any other demo on the machine
    Path scratch = Files.createTempDirectory(Path.of("/dev/shm"), "umsdt-");

    List<String> arguments = new ArrayList<>(List.of("--json", report.toString(), "--netns-prefix", PREFIX,
        "--scratch-parent", scratch.toString()));
    arguments.addAll(List.of(options));
    int exit = new CommandLine(new DemoCommand()).execute(arguments.toArray(String[]::new));

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
    try {
      assertThat(HostLeftovers.processes(scratch.toString())).as("workload, agents left running").isEmpty();
      try (var left = Files.list(scratch)) {
        assertThat(left.toList()).as("files left in the scratch directory").isEmpty();
      }
    } finally {
      Files.deleteIfExists(scratch);
    }
    return json;
  }
}
