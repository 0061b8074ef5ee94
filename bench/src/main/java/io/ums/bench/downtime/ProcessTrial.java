package io.ums.bench.downtime;

import io.ums.bench.probe.MigrationObserver;

/** Runs a process migration under the {@link MigrationObserver} and turns what it saw into a result row. */
final class ProcessTrial {
  private ProcessTrial() {}

  static ResultRow measure(String method, Scenario scenario, BenchContext context,
      MigrationObserver.Migration migration) throws Exception {
    MigrationObserver observer = new MigrationObserver(context.sourceAddress(), context.destinationAddress(),
        context.source().vethHost());
    MigrationObserver.Observation seen = observer.observe(migration, context.progress()::phase);
    return new ResultRow(method, scenario.sizeMiB(), scenario.link(), scenario.memory(), scenario.run(),
        seen.downtimeMs(), seen.totalMs(), seen.wireBytes(), seen.checksumOk(), seen.counterContinued(),
        seen.overhead(), null, seen.probe());
  }

  static double millisSince(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e6;
  }
}
