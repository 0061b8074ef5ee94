package io.ums.bench.downtime;

import java.util.Map;

/**
 * One measured (or failed) run of one method. Absent values are null: {@code wire} rows carry totalMs only,
 * a failed row carries its error.
 *
 * @param wireBytes bytes the source node put on its link during the run (TCP/IP frames, measured on the veth)
 * @param overhead  per-phase milliseconds (from the coordinator API for {@code ums}, timed here for baselines)
 * @param measures  the probe's answer times before and during the migration, the agents' peak RSS
 */
public record ResultRow(
    String method,
    int sizeMiB,
    String link,
    String memory,
    int run,
    Double downtimeMs,
    Double totalMs,
    Long wireBytes,
    Boolean checksumOk,
    Boolean counterContinued,
    Map<String, Double> overhead,
    String error,
    Map<String, Double> measures) {

  /** Without further measures (probe answer times, agent memory). */
  public ResultRow(String method, int sizeMiB, String link, String memory, int run, Double downtimeMs,
                   Double totalMs, Long wireBytes, Boolean checksumOk, Boolean counterContinued,
                   Map<String, Double> overhead, String error) {
    this(method, sizeMiB, link, memory, run, downtimeMs, totalMs, wireBytes, checksumOk, counterContinued,
        overhead, error, Map.of());
  }

  public ResultRow withMeasures(Map<String, Double> more) {
    Map<String, Double> all = new java.util.LinkedHashMap<>(measures);
    all.putAll(more);
    return new ResultRow(method, sizeMiB, link, memory, run, downtimeMs, totalMs, wireBytes, checksumOk,
        counterContinued, overhead, error, all);
  }

  public static ResultRow failed(String method, Scenario scenario, String error) {
    return new ResultRow(method, scenario.sizeMiB(), scenario.link(), scenario.memory(), scenario.run(),
        null, null, null, null, null, Map.of(), error);
  }

  public boolean ok() {
    return error == null;
  }
}
