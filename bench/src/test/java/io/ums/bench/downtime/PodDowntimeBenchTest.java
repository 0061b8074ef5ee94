package io.ums.bench.downtime;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code ./ums bench downtime --approach pod} for real, small: local mode's two network-namespace nodes with real
 * agents and coordinator from the built jars (ums), and the real cluster of UMS_CLUSTER_ID (the running one, or
 * brought up and down again) with UMS deployed from deploy/ (ums-pod: a 16 MiB memservice pod moved with POST
 * /migrate kubelet-consistent, a client in node-a probing through the pod's Service). Both rows verified, both
 * downtimes and the ratio written.
 */
@Tag("slow")
@Tag("k8s")
class PodDowntimeBenchTest {
  @Test
  void onePodAndOneProcessMigrationOfTheSameServiceAreMeasuredAndCompared(@TempDir Path out) throws Exception {
    DowntimeCommand command = new DowntimeCommand();
    new CommandLine(command).parseArgs("--approach", "pod", "--sizes", "16", "--runs", "1", "--out", out.toString(),
        "--netns-prefix", "umspb");

    DowntimeBench.Outcome outcome = new DowntimeBench(command.settings(), System.err).run();

    List<ResultRow> rows = outcome.rows();
    assertThat(rows).extracting(ResultRow::method).containsExactly("ums", DowntimeCommand.POD_METHOD);
    for (ResultRow row : rows) {
      assertThat(row.error()).as("error of %s", row).isNull();
      assertThat(row.checksumOk()).as("memory and counter of %s", row).isTrue();
      assertThat(row.downtimeMs()).as("client-seen downtime of %s", row).isPositive();
      assertThat(row.totalMs()).as("total of %s", row).isGreaterThanOrEqualTo(row.downtimeMs());
    }
    ResultRow pod = rows.get(1);
    assertThat(pod.overhead()).as("the POST /migrate answer's breakdown").containsKeys("checkpoint", "freeze",
        "transfer", "restore", "podStart", "downtime", "total");
    JsonArray comparison = new JsonArray(Files.readString(out.resolve(PodComparison.FILE)));
    assertThat(comparison).hasSize(1);
    JsonObject size = comparison.getJsonObject(0);
    System.err.println("pod vs process: " + size.encode());
    assertThat(size.getInteger("sizeMiB")).isEqualTo(16);
    assertThat(size.getDouble("ratio")).isEqualTo(pod.downtimeMs() / rows.get(0).downtimeMs());
    assertThat(Files.readString(out.resolve("results.md"))).contains("ums-pod/ums downtime");
  }
}
