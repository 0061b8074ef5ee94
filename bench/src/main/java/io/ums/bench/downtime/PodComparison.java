package io.ums.bench.downtime;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Function;

/**
 * Issue 13's comparison in one bench run ({@code --approach pod}): per size, the median client-seen downtime of
 * ums-pod (the pod moved with kubelet-consistent, a client through its Service) against ums (local mode's process
 * migration of the same memservice), their ratio against the target of 1.5, and the same for the POST /migrate
 * answers' own downtime figures. Written as pod-vs-process.json and printed.
 */
final class PodComparison {
  static final double TARGET = 1.5;
  static final String FILE = "pod-vs-process.json";

  private PodComparison() {}

  static JsonArray json(List<ResultRow> rows) {
    Summary summary = new Summary(rows);
    JsonArray sizes = new JsonArray();
    for (String link : summary.links()) {
      for (int size : summary.sizes()) {
        Optional<Double> pod = median(summary, link, size, DowntimeCommand.POD_METHOD, ResultRow::downtimeMs);
        Optional<Double> process = median(summary, link, size, "ums", ResultRow::downtimeMs);
        if (pod.isEmpty() && process.isEmpty()) {
          continue;
        }
        Function<ResultRow, Double> answered = row -> row.overhead().get("downtime");
        Optional<Double> ratio = summary.ratio(link, size, DowntimeCommand.POD_METHOD, "ums", ResultRow::downtimeMs);
        sizes.add(new JsonObject().put("sizeMiB", size).put("link", link)
            .put("podDowntimeMs", pod.orElse(null)).put("processDowntimeMs", process.orElse(null))
            .put("ratio", ratio.orElse(null)).put("target", TARGET)
            .put("met", ratio.map(r -> r <= TARGET).orElse(null))
            .put("podAnswerDowntimeMs", median(summary, link, size, DowntimeCommand.POD_METHOD, answered).orElse(null))
            .put("processAnswerDowntimeMs", median(summary, link, size, "ums", answered).orElse(null))
            .put("answerRatio", summary.ratio(link, size, DowntimeCommand.POD_METHOD, "ums", answered).orElse(null))
            .put("podRuns", runs(summary, link, size, DowntimeCommand.POD_METHOD))
            .put("processRuns", runs(summary, link, size, "ums")));
      }
    }
    return sizes;
  }

  static Path write(Path dir, List<ResultRow> rows) throws IOException {
    Path file = dir.resolve(FILE);
    Files.writeString(file, json(rows).encodePrettily() + "\n");
    return file;
  }

  /** One line per size: both medians (client-seen, and the answers' own), the ratio, whether 1.5 is met. */
  static String describe(List<ResultRow> rows) {
    StringBuilder text = new StringBuilder("\nPod (kubelet-consistent) vs process (local mode), median downtime:\n");
    for (Object item : json(rows)) {
      JsonObject size = (JsonObject) item;
      text.append(String.format(Locale.ROOT, "  %d MiB: pod %s ms (%s runs ok), process %s ms (%s runs ok), ratio"
              + " %s (target <= %.1f: %s); the answers' downtime: pod %s ms, process %s ms, ratio %s%n",
          size.getInteger("sizeMiB"), ms(size.getDouble("podDowntimeMs")), size.getString("podRuns"),
          ms(size.getDouble("processDowntimeMs")), size.getString("processRuns"), ratio(size.getDouble("ratio")),
          TARGET, size.getValue("met") == null ? "-" : size.getBoolean("met") ? "met" : "missed",
          ms(size.getDouble("podAnswerDowntimeMs")), ms(size.getDouble("processAnswerDowntimeMs")),
          ratio(size.getDouble("answerRatio"))));
    }
    return text.toString();
  }

  private static Optional<Double> median(Summary summary, String link, int size, String method,
      Function<ResultRow, Double> metric) {
    return summary.spread(new Summary.Key(link, size, method), metric).map(Summary.Spread::median);
  }

  private static String runs(Summary summary, String link, int size, String method) {
    List<ResultRow> cell = summary.cell(new Summary.Key(link, size, method));
    return cell.stream().filter(ResultRow::ok).count() + "/" + cell.size();
  }

  private static String ms(Double value) {
    return value == null ? "-" : String.format(Locale.ROOT, "%.0f", value);
  }

  private static String ratio(Double value) {
    return value == null ? "-" : String.format(Locale.ROOT, "%.2f", value);
  }
}
