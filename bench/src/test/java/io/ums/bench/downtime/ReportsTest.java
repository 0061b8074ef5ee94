package io.ums.bench.downtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The result files, the Markdown summary and the plots, from rows made up here (no testbed needed). */
class ReportsTest {
  private static ResultRow row(String method, int size, int run, double downtime, double total) {
    return new ResultRow(method, size, "1gbit", "random", run, downtime, total, (long) size << 20, true, true,
        method.equals("ums") ? Map.of("creation", 5.0, "checkpoint", 10.0 * run, "transfer", 20.0,
            "restore", 30.0, "total", total) : Map.of(), null);
  }

  private static List<ResultRow> rows() {
    List<ResultRow> rows = new ArrayList<>();
    for (int run = 1; run <= 3; run++) {
      rows.add(row("ums", 256, run, 100 + run, 1000 + 100 * run));
      rows.add(row("rsync-ssh", 256, run, 400, 4000));
      rows.add(row("criu-page-server", 256, run, 90, 2000));
      rows.add(new ResultRow("wire", 256, "1gbit", "random", run, null, 800.0, null, null, null, Map.of(), null));
    }
    rows.add(ResultRow.failed("ums", new Scenario(256, "1gbit", 4, false), "agent node-b: restore failed"));
    return rows;
  }

  @Test
  void medianAndSpreadIgnoreFailedRunsAndRatiosUseMedians() {
    Summary summary = new Summary(rows());
    Summary.Spread total = summary.spread(new Summary.Key("1gbit", 256, "ums"), ResultRow::totalMs).orElseThrow();
    assertThat(total.median()).isEqualTo(1200.0);
    assertThat(total.min()).isEqualTo(1100.0);
    assertThat(total.max()).isEqualTo(1300.0);
    assertThat(total.runs()).isEqualTo(3);
    assertThat(summary.ratio("1gbit", 256, "ums", "wire", ResultRow::totalMs).orElseThrow()).isCloseTo(1.5, within(1e-9));
    assertThat(summary.ratio("1gbit", 256, "ums", "rsync-ssh", ResultRow::totalMs).orElseThrow()).isCloseTo(0.3, within(1e-9));
    assertThat(summary.phase(new Summary.Key("1gbit", 256, "ums"), "checkpoint").orElseThrow().median())
        .isEqualTo(20.0);
  }

  @Test
  void theMarkdownComparesUmsRuncWithUmsWhenTheContainerMethodRan() {
    List<ResultRow> rows = rows();
    for (int run = 1; run <= 3; run++) {
      rows.add(row("ums-runc", 256, run, 110 + run, 1100 + 100 * run));
    }

    String markdown = MarkdownReport.render(new Summary(rows), "./ums bench downtime --approach container", "test");

    // downtime medians 112 / 102, totals 1300 / 1200
    assertThat(markdown).contains("| MiB | ums-runc/ums downtime | ums-runc/ums total |")
        .contains("| 256 | 1.10 | 1.08 |");
  }

  @Test
  void theMarkdownComparesPostCopyWithCriusOwnWhenBothRan() {
    List<ResultRow> rows = rows();
    for (int run = 1; run <= 3; run++) {
      rows.add(row("ums-postcopy", 256, run, 200 + run, 3000 + 100 * run));
      rows.add(row("criu-lazy-pages", 256, run, 100 + run, 2000 + 100 * run));
    }

    String markdown = MarkdownReport.render(new Summary(rows), "./ums bench downtime", "test");

    // totals 3200 / 2200, downtimes 202 / 102
    assertThat(markdown).contains("Post-copy against CRIU's own (`ums-postcopy` / `criu-lazy-pages`")
        .contains("| MiB | total | downtime |\n|---:|---:|---:|\n| 256 | 1.45 | 1.98 |");
    assertThat(MarkdownReport.render(new Summary(rows()), "./ums bench downtime", "test"))
        .doesNotContain("Post-copy against CRIU's own");
  }

  @Test
  void theMarkdownGivesProbeAnswerTimesAgentMemoryAndPostCopyTotalAgainstStopAndCopy(@TempDir Path dir)
      throws Exception {
    List<ResultRow> rows = new ArrayList<>();
    for (int run = 1; run <= 3; run++) {
      rows.add(row("ums", 256, run, 1000, 2000).withMeasures(Map.of("probeP50BeforeMs", 0.3,
          "probeP99BeforeMs", 2.0, "probeAnswersDuring", 0.0, "sourceAgentPeakRssMiB", 90.0,
          "destinationAgentPeakRssMiB", 95.0)));
      rows.add(row("ums-postcopy", 256, run, 200, 2200 + run).withMeasures(Map.of("probeP50BeforeMs", 0.3,
          "probeP99BeforeMs", 2.0, "probeP50DuringMs", 0.4, "probeP99DuringMs", 10.0 + run,
          "probeAnswersDuring", 900.0, "sourceAgentPeakRssMiB", 100.0, "destinationAgentPeakRssMiB", 110.0)));
    }

    String markdown = MarkdownReport.render(new Summary(rows), "./ums bench downtime", "test");

    assertThat(markdown).contains("| MiB | method | before p50 / p99 | during p50 / p99 (answers) |")
        .contains("| 256 | ums | 0.30 / 2.00 | - / - (0.0) | 90.0 | 95.0 | 1.00 |")
        .contains("| 256 | ums-postcopy | 0.30 / 2.00 | 0.40 / 12.0 (900) | 100 | 110 | 1.10 |");
    ResultFiles.write(dir, rows);
    JsonObject postCopy = new JsonArray(Files.readString(dir.resolve("results.json"))).getJsonObject(1);
    assertThat(postCopy.getJsonObject("measures").getDouble("probeP99DuringMs")).isEqualTo(11.0);
  }

  @Test
  void filesCarryEveryRowAndTheMarkdownTheRatiosAndFailures(@TempDir Path dir) throws Exception {
    List<ResultRow> rows = rows();
    ResultFiles.write(dir, rows);
    JsonArray json = new JsonArray(Files.readString(dir.resolve("results.json")));
    assertThat(json).hasSize(rows.size());
    JsonObject wire = json.getJsonObject(3);
    assertThat(wire.fieldNames()).containsExactlyInAnyOrder("method", "sizeMiB", "link", "memory", "run", "totalMs");
    assertThat(json.getJsonObject(rows.size() - 1).getString("error")).isEqualTo("agent node-b: restore failed");
    List<String> csv = Files.readAllLines(dir.resolve("results.csv"));
    assertThat(csv).hasSize(rows.size() + 1);
    assertThat(csv.get(0)).startsWith("method,sizeMiB,link,memory,run,downtimeMs,totalMs,wireBytes,checksumOk");

    String markdown = MarkdownReport.render(new Summary(rows), "./ums bench downtime", "test machine");
    assertThat(markdown)
        .contains("| 256 | ums | 102 (101-103) | 1200 (1100-1300) | 256 | ok | 3/4 |")
        .contains("| 256 | 1.50 | 0.30 | 0.26 | 0.60 | 1.13 |")
        .contains("ums 256 MiB 1gbit run 4: agent node-b: restore failed");

    assertThat(markdown).doesNotContain("ums-runc/ums");

    List<Path> plots = Charts.write(dir, new Summary(rows));
    assertThat(plots).extracting(p -> p.getFileName().toString())
        .containsExactly("time-vs-size-1gbit.png", "ums-phases-1gbit.png");
    for (Path plot : plots) {
      byte[] header = new byte[4];
      System.arraycopy(Files.readAllBytes(plot), 0, header, 0, 4);
      assertThat(header).isEqualTo(new byte[] {(byte) 0x89, 'P', 'N', 'G'});
    }
  }
}
