package io.ums.bench.downtime;

/** One way of moving the workload (or its bytes) from node A to node B, measured on the same testbed. */
public sealed interface MigrationMethod
    permits UmsMethod, PodMethod, RsyncSshMethod, CriuPageServerMethod, CriuLazyPagesMethod, WireMethod {
  /** The method's name in every output file. */
  String name();

  /** Runs one scenario; throws on failure (the bench turns that into a failed row and goes on). */
  ResultRow run(Scenario scenario, BenchContext context) throws Exception;
}
