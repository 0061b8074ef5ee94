package io.ums.bench.downtime;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.bench.downtime.FirstMigrationBench.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The first-migration report: each round's first run against the median of its later runs, then over rounds. */
class FirstMigrationReportTest {
  private static Run run(int round, int run, double downtime, double total, long cpu) {
    return new Run(round, new ResultRow("ums", 256, "unlimited", "random", run, downtime, total, 1L << 28, true, true,
        Map.of(), null), cpu);
  }

  private static List<Run> round(int round, double first, double... later) {
    List<Run> runs = new ArrayList<>(List.of(run(round, 1, first, first + 100, (long) first)));
    for (int i = 0; i < later.length; i++) {
      runs.add(run(round, i + 2, later[i], later[i] + 100, (long) later[i]));
    }
    return runs;
  }

  @Test
  void comparesTheFirstRunWithTheMedianOfTheLaterOnesPerRoundAndOverRounds() {
    List<Run> runs = new ArrayList<>(round(1, 1500, 1000, 900, 1100, 5000));
    runs.addAll(round(2, 1000, 1000, 1000, 1000, 1000));
    runs.addAll(round(3, 3000, 1000, 1000, 1000, 1000));

    FirstMigrationReport.Ratio first = FirstMigrationReport.ratio(runs, 1, FirstMigrationReport::downtime).orElseThrow();
    assertThat(first.laterMedian()).isEqualTo(1050.0); // median of 900, 1000, 1100, 5000
    assertThat(first.value()).isCloseTo(1500.0 / 1050, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(FirstMigrationReport.medianRatio(runs, FirstMigrationReport::downtime).getAsDouble())
        .isCloseTo(1500.0 / 1050, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(FirstMigrationReport.ratio(runs, 2, FirstMigrationReport::total).orElseThrow().value()).isEqualTo(1.0);
    assertThat(FirstMigrationReport.ratio(runs, 3, FirstMigrationReport::cpu).orElseThrow().value()).isEqualTo(3.0);
  }

  @Test
  void aRoundWithAFailedRunHasNoRatio(@TempDir Path dir) throws Exception {
    List<Run> runs = new ArrayList<>(round(1, 1000, 1000, 1000));
    runs.add(new Run(1, ResultRow.failed("ums", new Scenario(256, "unlimited", 4, false), "agent died"), -1));

    assertThat(FirstMigrationReport.ratio(runs, 1, FirstMigrationReport::downtime)).isEmpty();
    List<Path> files = FirstMigrationReport.write(dir, runs, "./ums bench first-migration", "test machine");
    String markdown = Files.readString(files.get(1));
    assertThat(markdown).contains("| 1 | 4 | - | - | - | - | - | agent died |").contains("| median | - | - | - |");
    assertThat(Files.readString(files.get(0))).contains("\"error\" : \"agent died\"").contains("\"agentsCpuMs\" : null");
  }
}
