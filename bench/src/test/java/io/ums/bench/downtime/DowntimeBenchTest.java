package io.ums.bench.downtime;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.bench.HostLeftovers;
import io.ums.bench.local.UmsJars;
import io.vertx.core.json.JsonArray;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The harness itself, for real: two network-namespace nodes, tc-limited and unlimited links, real agents and
 * coordinator from the built jars, real CRIU baselines, a real sshd. Checks the files, that every method
 * ran and verified the workload's memory, and that nothing is left behind.
 */
@Tag("slow")
class DowntimeBenchTest {
  private static final String PREFIX = "umsbt";

  @Test
  void shortRunWritesEveryFileMeasuresEveryMethodAndLeavesNothingBehind(@TempDir Path out) throws Exception {
    List<Path> scratchBefore = HostLeftovers.scratchDirectories("ums-bench-");
    long locksBefore = HostLeftovers.criuLockRulesInRootNamespace();
    // every method, the container one (ums-runc) and post-copy with its CRIU baseline included
    List<String> methods = new java.util.ArrayList<>(DowntimeCommand.METHODS);
    methods.add(DowntimeCommand.CONTAINER_METHOD);
    methods.add(DowntimeCommand.POST_COPY_METHOD);
    methods.add(DowntimeCommand.LAZY_PAGES_BASELINE);
    DowntimeBench.Settings settings = new DowntimeBench.Settings(List.of(0, 16), List.of("1gbit", "unlimited"), 1,
        out, false, methods, PREFIX, 7000, "test");

    DowntimeBench.Outcome outcome = new DowntimeBench(settings, System.err).run();

    for (String file : List.of("results.csv", "results.json", "results.md", "time-vs-size-1gbit.png",
        "time-vs-size-unlimited.png", "ums-phases-1gbit.png", "ums-phases-unlimited.png")) {
      assertThat(out.resolve(file)).isNotEmptyFile();
    }
    List<ResultRow> rows = outcome.rows();
    assertThat(rows).hasSize(2 * 2 * methods.size());
    assertThat(rows).extracting(ResultRow::method).containsAll(methods);
    // the baselines first: when ums fails, the report still shows that the harness itself works
    List<ResultRow> ordered = new java.util.ArrayList<>(rows.stream().filter(r -> !r.method().startsWith("ums")).toList());
    ordered.addAll(rows.stream().filter(r -> r.method().startsWith("ums")).toList());
    for (ResultRow row : ordered) {
      assertThat(row.error()).as("error of " + row).isNull();
      if (row.method().equals("wire")) {
        assertThat(row.totalMs()).as("wire time of " + row).isPositive();
      } else {
        assertThat(row.checksumOk()).as("checksum verdict of " + row).isTrue();
        assertThat(row.counterContinued()).as("counter of " + row).isTrue();
        assertThat(row.downtimeMs()).as("downtime of " + row).isPositive();
        assertThat(row.totalMs()).as("total of " + row).isGreaterThanOrEqualTo(row.downtimeMs());
      }
    }
    JsonArray json = new JsonArray(Files.readString(out.resolve("results.json")));
    assertThat(json).hasSize(rows.size());
    assertThat(Files.readString(out.resolve("results.md"))).contains("ums/wire", "ums/rsync-ssh",
        "ums/criu-page-server", "Post-copy against CRIU's own");
    assertThat(Files.readAllLines(out.resolve("results.csv"))).hasSize(rows.size() + 1);

    assertThat(HostLeftovers.namespaces(PREFIX)).isEmpty();
    assertThat(HostLeftovers.links(PREFIX)).isEmpty();
    assertThat(HostLeftovers.tcRules(PREFIX)).isEmpty();
    assertThat(HostLeftovers.processes("ums-bench-")).as("memservice, criu, sshd, agents left running").isEmpty();
    assertThat(HostLeftovers.processes("/run/netns/" + PREFIX)).isEmpty();
    assertThat(HostLeftovers.processes(UmsJars.locate().home().resolve("coordinator").toString())).isEmpty();
    assertThat(HostLeftovers.scratchDirectories("ums-bench-")).as("scratch directories this run left")
        .isSubsetOf(scratchBefore);
    assertThat(HostLeftovers.criuLockRulesInRootNamespace()).isEqualTo(locksBefore);
  }
}
