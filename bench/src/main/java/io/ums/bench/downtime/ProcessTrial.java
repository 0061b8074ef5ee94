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

  /**
   * A post-copy migration ends with its last page, not with the destination's first answer: its total is the
   * migration call's own (the coordinator answers once the last page arrived; CRIU's daemon exits then), when
   * that is longer.
   */
  static ResultRow untilTheLastPage(ResultRow row) {
    Double answered = row.overhead().get("total");
    if (row.totalMs() == null || answered == null || answered <= row.totalMs()) {
      return row;
    }
    return new ResultRow(row.method(), row.sizeMiB(), row.link(), row.memory(), row.run(), row.downtimeMs(),
        answered, row.wireBytes(), row.checksumOk(), row.counterContinued(), row.overhead(), row.error(),
        row.measures());
  }

  static double millisSince(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e6;
  }
}
