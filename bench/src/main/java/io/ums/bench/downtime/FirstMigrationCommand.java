package io.ums.bench.downtime;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./ums bench first-migration}: the options, then {@link FirstMigrationBench}. */
@Command(name = "first-migration", mixinStandardHelpOptions = true,
    description = "The first migration after the agents and the coordinator start against the next ones: per"
        + " round, fresh agents and coordinator, then several migrations of the same memservice, each verified"
        + " by checksum and counter; writes first-migration.json/md.")
public final class FirstMigrationCommand implements Callable<Integer> {
  @Option(names = "--size", defaultValue = "256", description = "workload memory in MiB (default: ${DEFAULT-VALUE})")
  int sizeMiB;

  @Option(names = "--link", defaultValue = "unlimited",
      description = "link rate (tc tbf), e.g. 1gbit or unlimited (default: ${DEFAULT-VALUE})")
  String link;

  @Option(names = "--migrations", defaultValue = "5",
      description = "migrations per round, the first one included (default: ${DEFAULT-VALUE})")
  int migrations;

  @Option(names = "--rounds", defaultValue = "3",
      description = "rounds, each with freshly started agents and coordinator (default: ${DEFAULT-VALUE})")
  int rounds;

  @Option(names = "--warm-up-mib", paramLabel = "MIB",
      description = "MiB each agent pushes through its data path before it reports ready (default: the agent's,"
          + " 64; 0 measures agents without the warm-up)")
  Integer warmUpMib;

  @Option(names = "--out", defaultValue = "bench-results/first-migration",
      description = "output directory (default: ${DEFAULT-VALUE})")
  Path out;

  @Option(names = "--netns-prefix", hidden = true, defaultValue = "umsf")
  String netnsPrefix;

  @Option(names = "--port", hidden = true, defaultValue = "7000", description = "the workload's TCP port")
  int port;

  @Override
  public Integer call() throws Exception {
    if (migrations < 2 || rounds < 1 || sizeMiB < 0) {
      System.err.println("need --migrations >= 2, --rounds >= 1 and --size >= 0");
      return 2;
    }
    if (warmUpMib != null) {
      // read by UmsJars when it starts the agents
      System.setProperty(io.ums.agent.DataPathWarmup.MIB_PROPERTY, String.valueOf(warmUpMib));
    }
    String command = "./ums bench first-migration --size " + sizeMiB + " --link " + link + " --migrations "
        + migrations + " --rounds " + rounds + (warmUpMib == null ? "" : " --warm-up-mib " + warmUpMib);
    FirstMigrationBench.Outcome outcome = new FirstMigrationBench(new FirstMigrationBench.Settings(sizeMiB, link,
        migrations, rounds, out.toAbsolutePath(), netnsPrefix, port, command), System.err).run();
    outcome.files().forEach(f -> System.err.println("wrote " + f));
    System.err.print(FirstMigrationReport.ratios(outcome.runs()));
    return outcome.runs().stream().allMatch(run -> run.row().ok()) ? 0 : 1;
  }
}
