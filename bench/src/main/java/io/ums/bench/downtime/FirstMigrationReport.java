package io.ums.bench.downtime;

import io.ums.bench.downtime.FirstMigrationBench.Run;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.function.ToDoubleFunction;

/**
 * first-migration.json (every run) and first-migration.md: per round, the first run against the median of
 * the later ones (downtime, total, agents' CPU), and the median of those ratios over the rounds.
 */
final class FirstMigrationReport {
  /** Issue 14: the first migration's downtime at most this times the median of the later ones. */
  static final double TARGET = 1.2;

  private FirstMigrationReport() {}

  /** One measure of a round: the first run, the median of the later runs, and their ratio. */
  record Ratio(double first, double laterMedian) {
    double value() {
      return first / laterMedian;
    }
  }

  static List<Path> write(Path dir, List<Run> runs, String command, String machine) throws IOException {
    Path json = writeJson(dir, runs);
    Path md = dir.resolve("first-migration.md");
    Files.writeString(md, markdown(runs, command, machine));
    return List.of(json, md);
  }

  static Path writeJson(Path dir, List<Run> runs) throws IOException {
    JsonArray array = new JsonArray();
    for (Run run : runs) {
      ResultRow row = run.row();
      JsonObject json = new JsonObject().put("round", run.round()).put("run", row.run()).put("sizeMiB", row.sizeMiB())
          .put("link", row.link()).put("downtimeMs", row.downtimeMs()).put("totalMs", row.totalMs())
          .put("checksumOk", row.checksumOk()).put("counterContinued", row.counterContinued())
          .put("agentsCpuMs", run.agentsCpuMs() < 0 ? null : run.agentsCpuMs());
      if (!row.overhead().isEmpty()) {
        json.put("overhead", new JsonObject(new java.util.LinkedHashMap<>(row.overhead())));
      }
      if (row.error() != null) {
        json.put("error", row.error());
      }
      array.add(json);
    }
    Files.createDirectories(dir);
    Path file = dir.resolve("first-migration.json");
    Files.writeString(file, array.encodePrettily() + "\n");
    return file;
  }

  /** The first run of {@code round} against the median of its later runs; empty unless all are there. */
  static Optional<Ratio> ratio(List<Run> runs, int round, ToDoubleFunction<Run> measure) {
    List<Run> ofRound = runs.stream().filter(r -> r.round() == round).toList();
    Optional<Run> first = ofRound.stream().filter(r -> r.row().run() == 1).findFirst();
    List<Run> later = ofRound.stream().filter(r -> r.row().run() > 1).toList();
    if (first.isEmpty() || later.isEmpty() || ofRound.stream().anyMatch(r -> !r.row().ok())) {
      return Optional.empty();
    }
    double[] sorted = later.stream().mapToDouble(measure).sorted().toArray();
    int n = sorted.length;
    double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    double firstValue = measure.applyAsDouble(first.get());
    return firstValue < 0 || median <= 0 ? Optional.empty() : Optional.of(new Ratio(firstValue, median));
  }

  static double downtime(Run run) {
    return run.row().downtimeMs();
  }

  static double total(Run run) {
    return run.row().totalMs();
  }

  static double cpu(Run run) {
    return run.agentsCpuMs();
  }

  /** A few lines for the terminal: each round's ratios and their median. */
  static String ratios(List<Run> runs) {
    StringBuilder out = new StringBuilder();
    for (int round : rounds(runs)) {
      out.append(String.format(Locale.ROOT, "round %d: first / median of later runs: downtime %s, total %s,"
              + " agents' CPU %s%n", round, cell(ratio(runs, round, FirstMigrationReport::downtime)),
          cell(ratio(runs, round, FirstMigrationReport::total)), cell(ratio(runs, round, FirstMigrationReport::cpu))));
    }
    out.append(String.format(Locale.ROOT, "median over rounds: downtime %s (target <= %.1f), total %s, agents' CPU %s%n",
        format(medianRatio(runs, FirstMigrationReport::downtime)), TARGET,
        format(medianRatio(runs, FirstMigrationReport::total)), format(medianRatio(runs, FirstMigrationReport::cpu))));
    return out.toString();
  }

  static OptionalDouble medianRatio(List<Run> runs, ToDoubleFunction<Run> measure) {
    double[] values = rounds(runs).stream().map(round -> ratio(runs, round, measure)).flatMap(Optional::stream)
        .mapToDouble(Ratio::value).sorted().toArray();
    int n = values.length;
    return n == 0 ? OptionalDouble.empty()
        : OptionalDouble.of(n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2);
  }

  private static List<Integer> rounds(List<Run> runs) {
    return runs.stream().map(Run::round).distinct().sorted().toList();
  }

  static String markdown(List<Run> runs, String command, String machine) {
    StringBuilder md = new StringBuilder("# First migration after UMS starts\n\n`" + command + "`\n\n" + machine
        + "\n\nEach round starts two agents and a coordinator; run 1 is the first migration they make.\n\n"
        + "| round | run | downtime ms | total ms | agents' CPU ms | checksum | counter | error |\n"
        + "|---|---|---|---|---|---|---|---|\n");
    for (Run run : runs) {
      ResultRow row = run.row();
      md.append(String.format(Locale.ROOT, "| %d | %d | %s | %s | %s | %s | %s | %s |%n", run.round(), row.run(),
          number(row.downtimeMs()), number(row.totalMs()), run.agentsCpuMs() < 0 ? "-" : run.agentsCpuMs(),
          verdict(row.checksumOk()), verdict(row.counterContinued()), row.error() == null ? "" : row.error()));
    }
    md.append("\nFirst run against the median of the later runs of its round (target: downtime at most ")
        .append(TARGET).append("):\n\n| round | downtime first / later | total first / later | agents' CPU first / later |\n"
            + "|---|---|---|---|\n");
    for (int round : rounds(runs)) {
      md.append("| ").append(round).append(" | ").append(detail(ratio(runs, round, FirstMigrationReport::downtime)))
          .append(" | ").append(detail(ratio(runs, round, FirstMigrationReport::total))).append(" | ")
          .append(detail(ratio(runs, round, FirstMigrationReport::cpu))).append(" |\n");
    }
    md.append("| median | ").append(format(medianRatio(runs, FirstMigrationReport::downtime))).append(" | ")
        .append(format(medianRatio(runs, FirstMigrationReport::total))).append(" | ")
        .append(format(medianRatio(runs, FirstMigrationReport::cpu))).append(" |\n");
    return md.toString();
  }

  private static String detail(Optional<Ratio> ratio) {
    return ratio.map(r -> String.format(Locale.ROOT, "%.0f / %.0f = %.2f", r.first(), r.laterMedian(), r.value()))
        .orElse("-");
  }

  private static String cell(Optional<Ratio> ratio) {
    return ratio.map(r -> String.format(Locale.ROOT, "%.2f (%.0f / %.0f)", r.value(), r.first(), r.laterMedian()))
        .orElse("-");
  }

  private static String format(OptionalDouble value) {
    return value.isPresent() ? String.format(Locale.ROOT, "%.2f", value.getAsDouble()) : "-";
  }

  private static String number(Double value) {
    return value == null ? "-" : String.format(Locale.ROOT, "%.1f", value);
  }

  private static String verdict(Boolean ok) {
    return ok == null ? "-" : ok ? "ok" : "FAILED";
  }
}
