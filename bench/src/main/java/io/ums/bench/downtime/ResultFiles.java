package io.ums.bench.downtime;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;

/** results.csv and results.json: one row per method, size, link and run, failed rows with their error. */
final class ResultFiles {
  /** The overhead keys of all rows, in first-seen order (the API's for ums, ours for the baselines). */
  static List<String> phases(List<ResultRow> rows) {
    java.util.LinkedHashSet<String> keys = new java.util.LinkedHashSet<>();
    rows.forEach(row -> keys.addAll(row.overhead().keySet()));
    return List.copyOf(keys);
  }

  private ResultFiles() {}

  static JsonArray json(List<ResultRow> rows) {
    JsonArray array = new JsonArray();
    for (ResultRow row : rows) {
      JsonObject json = new JsonObject()
          .put("method", row.method())
          .put("sizeMiB", row.sizeMiB())
          .put("link", row.link())
          .put("memory", row.memory())
          .put("run", row.run());
      if (row.method().equals("wire")) {
        json.put("totalMs", row.totalMs());
      } else {
        json.put("downtimeMs", row.downtimeMs())
            .put("totalMs", row.totalMs())
            .put("wireBytes", row.wireBytes())
            .put("checksumOk", row.checksumOk())
            .put("counterContinued", row.counterContinued());
        if (!row.overhead().isEmpty()) {
          json.put("overhead", new JsonObject(new LinkedHashMap<>(row.overhead())));
        }
        if (!row.measures().isEmpty()) {
          json.put("measures", new JsonObject(new LinkedHashMap<>(row.measures())));
        }
      }
      if (row.error() != null) {
        json.put("error", row.error());
      }
      array.add(json);
    }
    return array;
  }

  static void write(Path dir, List<ResultRow> rows) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("results.json"), json(rows).encodePrettily() + "\n");
    StringBuilder csv = new StringBuilder(
        "method,sizeMiB,link,memory,run,downtimeMs,totalMs,wireBytes,checksumOk,counterContinued");
    List<String> phases = phases(rows);
    phases.forEach(p -> csv.append(",overhead").append(Character.toUpperCase(p.charAt(0))).append(p.substring(1))
        .append("Ms"));
    csv.append(",error\n");
    for (ResultRow row : rows) {
      csv.append(String.join(",", row.method(), String.valueOf(row.sizeMiB()), row.link(), row.memory(),
          String.valueOf(row.run()), cell(row.downtimeMs()), cell(row.totalMs()), cell(row.wireBytes()),
          cell(row.checksumOk()), cell(row.counterContinued())));
      phases.forEach(p -> csv.append(",").append(cell(row.overhead().get(p))));
      csv.append(",").append(quote(row.error())).append("\n");
    }
    Files.writeString(dir.resolve("results.csv"), csv);
  }

  private static String cell(Object value) {
    if (value == null) {
      return "";
    }
    return value instanceof Double d ? String.format(Locale.ROOT, "%.3f", d) : value.toString();
  }

  private static String quote(String text) {
    return text == null ? "" : "\"" + text.replace("\"", "\"\"").replace("\n", " ") + "\"";
  }
}
