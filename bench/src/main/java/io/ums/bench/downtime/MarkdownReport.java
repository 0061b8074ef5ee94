package io.ums.bench.downtime;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/** results.md: median and min-max per link, size and method, the ratios against the baselines, ums phases. */
final class MarkdownReport {
  private static final List<String> BASELINES = List.of("wire", "rsync-ssh", "criu-page-server");

  private MarkdownReport() {}

  static String render(Summary summary, String command, String machine) {
    StringBuilder md = new StringBuilder("# UMS bench: downtime and total migration time\n\n");
    md.append("Command: `").append(command).append("`  \n");
    md.append("Machine: ").append(machine).append("\n\n");
    md.append("Median and (min-max) over the successful runs, in ms. Downtime is what a client probing every ")
        .append("millisecond saw (last answer from the source to first answer from the destination); total is ")
        .append("migration start to the destination's first answer; wire MiB is what the source node sent on ")
        .append("its link (TCP/IP frames). `wire` is a plain TCP transfer of the memory size, no migration.\n");
    for (String link : summary.links()) {
      md.append("\n## Link ").append(link).append("\n\n");
      md.append("| MiB | method | downtime ms | total ms | wire MiB | checksum | runs |\n");
      md.append("|---:|---|---:|---:|---:|:---:|---:|\n");
      for (int size : summary.sizes()) {
        for (String method : summary.methods()) {
          Summary.Key key = new Summary.Key(link, size, method);
          List<ResultRow> cell = summary.cell(key);
          if (cell.isEmpty()) {
            continue;
          }
          long ok = cell.stream().filter(ResultRow::ok).count();
          md.append("| ").append(size).append(" | ").append(method)
              .append(" | ").append(spread(summary.spread(key, ResultRow::downtimeMs)))
              .append(" | ").append(spread(summary.spread(key, ResultRow::totalMs)))
              .append(" | ").append(summary.spread(key, r -> r.wireBytes() == null ? null : r.wireBytes() / 1048576.0)
                  .map(s -> format(s.median())).orElse("-"))
              .append(" | ").append(checksums(cell))
              .append(" | ").append(ok).append("/").append(cell.size()).append(" |\n");
        }
      }
      ratios(md, summary, link);
      postCopyRatios(md, summary, link);
      containerRatios(md, summary, link);
      podRatios(md, summary, link);
      phases(md, summary, link);
      serviceAndMemory(md, summary, link);
    }
    Map<Summary.Key, List<ResultRow>> failures = summary.failures();
    if (!failures.isEmpty()) {
      md.append("\n## Failed runs\n\n");
      failures.forEach((key, rows) -> rows.forEach(row -> md.append("- ").append(key.method()).append(" ")
          .append(key.sizeMiB()).append(" MiB ").append(key.link()).append(" run ").append(row.run())
          .append(": ").append(row.error()).append("\n")));
    }
    return md.toString();
  }

  private static void ratios(StringBuilder md, Summary summary, String link) {
    if (BASELINES.stream().noneMatch(summary.methods()::contains)) {
      return;
    }
    md.append("\nRatios of medians (below 1: ums is faster):\n\n");
    md.append("| MiB | ums/wire total | ums/rsync-ssh total | ums/rsync-ssh downtime ")
        .append("| ums/criu-page-server total | ums/criu-page-server downtime |\n");
    md.append("|---:|---:|---:|---:|---:|---:|\n");
    for (int size : summary.sizes()) {
      md.append("| ").append(size);
      for (String baseline : BASELINES) {
        md.append(" | ").append(ratio(summary, link, size, baseline, ResultRow::totalMs));
        if (!baseline.equals("wire")) {
          md.append(" | ").append(ratio(summary, link, size, baseline, ResultRow::downtimeMs));
        }
      }
      md.append(" |\n");
    }
  }

  /** ums-postcopy against CRIU's own post-copy, which goes straight over the link: what the agents cost. */
  private static void postCopyRatios(StringBuilder md, Summary summary, String link) {
    String ums = DowntimeCommand.POST_COPY_METHOD;
    String criu = CriuLazyPagesMethod.NAME;
    if (!summary.methods().contains(ums) || !summary.methods().contains(criu)) {
      return;
    }
    md.append("\nPost-copy against CRIU's own (`").append(ums).append("` / `").append(criu)
        .append("`, ratios of medians; total runs to the last page):\n\n")
        .append("| MiB | total | downtime |\n|---:|---:|---:|\n");
    for (int size : summary.sizes()) {
      md.append("| ").append(size)
          .append(" | ").append(twoDecimals(summary.ratio(link, size, ums, criu, ResultRow::totalMs)))
          .append(" | ").append(twoDecimals(summary.ratio(link, size, ums, criu, ResultRow::downtimeMs)))
          .append(" |\n");
    }
  }

  /** ums-runc against ums, same size and probe: what moving the service's container costs on top. */
  private static void containerRatios(StringBuilder md, Summary summary, String link) {
    if (!summary.methods().contains(DowntimeCommand.CONTAINER_METHOD)) {
      return;
    }
    md.append("\nContainer against process, ratios of medians (target: downtime at most 1.2):\n\n");
    md.append("| MiB | ums-runc/ums downtime | ums-runc/ums total |\n|---:|---:|---:|\n");
    for (int size : summary.sizes()) {
      md.append("| ").append(size);
      for (Function<ResultRow, Double> metric : List.<Function<ResultRow, Double>>of(ResultRow::downtimeMs,
          ResultRow::totalMs)) {
        md.append(" | ").append(twoDecimals(summary.ratio(link, size, DowntimeCommand.CONTAINER_METHOD, "ums", metric)));
      }
      md.append(" |\n");
    }
  }

  /** ums-pod against ums (issue 13): the same memservice as a pod moved kubelet-consistent vs as a process. */
  private static void podRatios(StringBuilder md, Summary summary, String link) {
    if (!summary.methods().contains(DowntimeCommand.POD_METHOD)) {
      return;
    }
    md.append("\nPod (kubelet-consistent, client through the pod's Service) against process (local mode), ratios of")
        .append(" medians (target: downtime at most ").append(PodComparison.TARGET).append("):\n\n");
    md.append("| MiB | ums-pod/ums downtime | ums-pod/ums answers' downtime | ums-pod/ums total |\n")
        .append("|---:|---:|---:|---:|\n");
    for (int size : summary.sizes()) {
      md.append("| ").append(size);
      for (Function<ResultRow, Double> metric : List.<Function<ResultRow, Double>>of(ResultRow::downtimeMs,
          row -> row.overhead().get("downtime"), ResultRow::totalMs)) {
        md.append(" | ").append(twoDecimals(summary.ratio(link, size, DowntimeCommand.POD_METHOD, "ums", metric)));
      }
      md.append(" |\n");
    }
  }

  private static void phases(StringBuilder md, Summary summary, String link) {
    List<String> phases = ResultFiles.phases(summary.rows().stream().filter(r -> r.method().equals("ums")).toList());
    if (phases.isEmpty()) {
      return;
    }
    md.append("\n`ums` overhead from the POST /migrate answer (median ms):\n\n| MiB |");
    phases.forEach(p -> md.append(" ").append(p).append(" |"));
    md.append("\n|---:|");
    phases.forEach(p -> md.append("---:|"));
    md.append("\n");
    for (int size : summary.sizes()) {
      md.append("| ").append(size).append(" |");
      for (String phase : phases) {
        md.append(" ").append(summary.phase(new Summary.Key(link, size, "ums"), phase)
            .map(s -> format(s.median())).orElse("-")).append(" |");
      }
      md.append("\n");
    }
  }

  /**
   * For the ums methods: the probe's answer times before the migration and while it still ran after the
   * destination's first answer (post-copy: pages arriving), the agents' peak RSS during the migration, and
   * each method's total against stop-and-copy's (`ums`).
   */
  private static void serviceAndMemory(StringBuilder md, Summary summary, String link) {
    List<String> methods = summary.methods().stream().filter(m -> m.startsWith("ums")).toList();
    boolean measured = summary.rows().stream().anyMatch(r -> r.link().equals(link) && !r.measures().isEmpty());
    if (methods.isEmpty() || !measured) {
      return;
    }
    md.append("\nService and agents during the migration (median over runs): probe answer time p50 / p99 in ms ")
        .append("before the migration (at the source) and while it still ran after the destination's first ")
        .append("answer (post-copy: pages arriving; answers counted), agents' peak RSS (VmHWM, reset at the start), ")
        .append("total against `ums` (stop-and-copy):\n\n")
        .append("| MiB | method | before p50 / p99 | during p50 / p99 (answers) | source agent MiB | destination agent MiB | total / `ums` total |\n")
        .append("|---:|---|---:|---:|---:|---:|---:|\n");
    for (int size : summary.sizes()) {
      for (String method : methods) {
        Summary.Key key = new Summary.Key(link, size, method);
        if (summary.cell(key).isEmpty()) {
          continue;
        }
        md.append("| ").append(size).append(" | ").append(method)
            .append(" | ").append(measure(summary, key, "probeP50BeforeMs")).append(" / ")
            .append(measure(summary, key, "probeP99BeforeMs"))
            .append(" | ").append(measure(summary, key, "probeP50DuringMs")).append(" / ")
            .append(measure(summary, key, "probeP99DuringMs")).append(" (")
            .append(measure(summary, key, "probeAnswersDuring")).append(")")
            .append(" | ").append(measure(summary, key, "sourceAgentPeakRssMiB"))
            .append(" | ").append(measure(summary, key, "destinationAgentPeakRssMiB"))
            .append(" | ").append(twoDecimals(summary.ratio(link, size, method, "ums", ResultRow::totalMs)))
            .append(" |\n");
      }
    }
  }

  private static String measure(Summary summary, Summary.Key key, String name) {
    // answer times are fractions of a millisecond: two decimals below 10 ms
    return summary.spread(key, row -> row.measures().get(name))
        .map(s -> name.startsWith("probeP") && s.median() < 10 ? String.format(Locale.ROOT, "%.2f", s.median())
            : format(s.median())).orElse("-");
  }

  private static String ratio(Summary summary, String link, int size, String baseline,
      Function<ResultRow, Double> metric) {
    return twoDecimals(summary.ratio(link, size, "ums", baseline, metric));
  }

  /** A ratio as the tables show it, "-" when one side has no successful run. */
  private static String twoDecimals(Optional<Double> ratio) {
    return ratio.map(r -> String.format(Locale.ROOT, "%.2f", r)).orElse("-");
  }

  private static String spread(Optional<Summary.Spread> spread) {
    return spread.map(s -> s.runs() == 1 ? format(s.median())
        : format(s.median()) + " (" + format(s.min()) + "-" + format(s.max()) + ")").orElse("-");
  }

  private static String checksums(List<ResultRow> cell) {
    List<ResultRow> verified = cell.stream().filter(r -> r.checksumOk() != null).toList();
    if (verified.isEmpty()) {
      return "-";
    }
    return verified.stream().allMatch(ResultRow::checksumOk) ? "ok" : "MISMATCH";
  }

  static String format(double value) {
    return value >= 100 ? String.format(Locale.ROOT, "%.0f", value) : String.format(Locale.ROOT, "%.1f", value);
  }
}
