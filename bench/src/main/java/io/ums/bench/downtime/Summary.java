package io.ums.bench.downtime;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.Function;

/** Rows grouped by link, size and method, with median and min-max of the successful runs. */
final class Summary {
  record Spread(double median, double min, double max, int runs) {
    static Optional<Spread> of(Collection<Double> values) {
      List<Double> sorted = values.stream().sorted().toList();
      if (sorted.isEmpty()) {
        return Optional.empty();
      }
      int n = sorted.size();
      double median = n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
      return Optional.of(new Spread(median, sorted.get(0), sorted.get(n - 1), n));
    }
  }

  record Key(String link, int sizeMiB, String method) {}

  private final List<ResultRow> rows;

  Summary(List<ResultRow> rows) {
    this.rows = List.copyOf(rows);
  }

  List<ResultRow> rows() {
    return rows;
  }

  List<String> links() {
    return rows.stream().map(ResultRow::link).distinct().toList();
  }

  List<Integer> sizes() {
    return new ArrayList<>(new TreeSet<>(rows.stream().map(ResultRow::sizeMiB).toList()));
  }

  List<String> methods() {
    return rows.stream().map(ResultRow::method).distinct().toList();
  }

  List<ResultRow> cell(Key key) {
    return rows.stream()
        .filter(r -> r.link().equals(key.link()) && r.sizeMiB() == key.sizeMiB() && r.method().equals(key.method()))
        .sorted(Comparator.comparingInt(ResultRow::run))
        .toList();
  }

  Optional<Spread> spread(Key key, Function<ResultRow, Double> metric) {
    return Spread.of(cell(key).stream().filter(ResultRow::ok).map(metric).filter(v -> v != null).toList());
  }

  Optional<Spread> phase(Key key, String phase) {
    return spread(key, row -> row.overhead().get(phase));
  }

  /** Median of {@code method} divided by median of {@code baseline} for one metric, when both exist. */
  Optional<Double> ratio(String link, int size, String method, String baseline, Function<ResultRow, Double> metric) {
    Optional<Spread> ours = spread(new Key(link, size, method), metric);
    Optional<Spread> theirs = spread(new Key(link, size, baseline), metric);
    if (ours.isEmpty() || theirs.isEmpty() || theirs.get().median() <= 0) {
      return Optional.empty();
    }
    return Optional.of(ours.get().median() / theirs.get().median());
  }

  Map<Key, List<ResultRow>> failures() {
    Map<Key, List<ResultRow>> failed = new LinkedHashMap<>();
    for (ResultRow row : rows) {
      if (!row.ok()) {
        failed.computeIfAbsent(new Key(row.link(), row.sizeMiB(), row.method()), k -> new ArrayList<>()).add(row);
      }
    }
    return failed;
  }
}
