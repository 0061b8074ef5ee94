package io.ums.bench.downtime;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.CombinedDomainXYPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYErrorRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.YIntervalSeries;
import org.jfree.data.xy.YIntervalSeriesCollection;

/**
 * PNG plots with JFreeChart, headless: per link, total time and downtime vs memory size per method (median,
 * min-max as error bars), and the stacked phase breakdown of {@code ums}.
 */
final class Charts {
  private static final int WIDTH = 900;
  private static final int HEIGHT = 700;

  private static final Map<String, Color> COLORS = Map.of(
      "ums", new Color(0xD62728), "ums-runc", new Color(0xFF7F0E), "ums-postcopy", new Color(0x9467BD),
      "ums-pod", new Color(0x8C564B), "rsync-ssh", new Color(0x1F77B4), "criu-page-server", new Color(0x2CA02C),
      "criu-lazy-pages", new Color(0x17BECF), "wire", new Color(0x7F7F7F));

  private Charts() {}

  /** Writes the plots into {@code dir}; returns the files written. */
  static List<Path> write(Path dir, Summary summary) throws IOException {
    System.setProperty("java.awt.headless", "true");
    List<Path> written = new ArrayList<>();
    for (String link : summary.links()) {
      Path times = dir.resolve("time-vs-size-" + link + ".png");
      ChartUtils.saveChartAsPNG(times.toFile(), timesChart(summary, link), WIDTH, HEIGHT);
      written.add(times);
      Path phases = dir.resolve("ums-phases-" + link + ".png");
      ChartUtils.saveChartAsPNG(phases.toFile(), phasesChart(summary, link), WIDTH, HEIGHT / 2 + 100);
      written.add(phases);
    }
    return written;
  }

  private static JFreeChart timesChart(Summary summary, String link) {
    NumberAxis size = new NumberAxis("memory size (MiB)");
    CombinedDomainXYPlot combined = new CombinedDomainXYPlot(size);
    XYPlot total = subplot(summary, link, "total migration time (ms)", ResultRow::totalMs, true);
    combined.add(total, 1);
    combined.add(subplot(summary, link, "client-seen downtime (ms)", ResultRow::downtimeMs, false), 1);
    // one legend entry per method: the total subplot has them all, in the same colours as below
    combined.setFixedLegendItems(total.getLegendItems());
    JFreeChart chart = new JFreeChart("Total time and downtime vs size, link " + link,
        JFreeChart.DEFAULT_TITLE_FONT, combined, true);
    chart.setBackgroundPaint(Color.WHITE);
    return chart;
  }

  private static XYPlot subplot(Summary summary, String link, String label, Function<ResultRow, Double> metric,
      boolean withWire) {
    YIntervalSeriesCollection data = new YIntervalSeriesCollection();
    for (String method : summary.methods()) {
      if (method.equals("wire") && !withWire) {
        continue;
      }
      YIntervalSeries series = new YIntervalSeries(method);
      for (int mib : summary.sizes()) {
        summary.spread(new Summary.Key(link, mib, method), metric)
            .ifPresent(s -> series.add(mib, s.median(), s.min(), s.max()));
      }
      data.addSeries(series);
    }
    XYErrorRenderer renderer = new XYErrorRenderer();
    for (int i = 0; i < data.getSeriesCount(); i++) {
      renderer.setSeriesPaint(i, COLORS.getOrDefault((String) data.getSeriesKey(i), Color.BLACK));
      renderer.setSeriesStroke(i, new BasicStroke(2f));
    }
    renderer.setDefaultLinesVisible(true);
    renderer.setDrawXError(false);
    XYPlot plot = new XYPlot(data, null, new NumberAxis(label), renderer);
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    return plot;
  }

  /**
   * Stacks only phases that follow each other: the API's checkpoint streams while the transfer runs, so the
   * bar is creation, freeze (stop to pages flowing), transfer (pages flowing to images delivered), restore,
   * and "other" for the rest of the API's total (coordination, commit, source removal).
   */
  private static JFreeChart phasesChart(Summary summary, String link) {
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    for (int mib : summary.sizes()) {
      Summary.Key key = new Summary.Key(link, mib, "ums");
      boolean hasFreeze = summary.phase(key, "freeze").isPresent();
      double stacked = 0;
      for (String phase : List.of("creation", hasFreeze ? "freeze" : "checkpoint", "transfer", "restore")) {
        double median = summary.phase(key, phase).map(Summary.Spread::median).orElse(0.0);
        data.addValue(median, phase, mib + " MiB");
        stacked += median;
      }
      double total = summary.phase(key, "total").map(Summary.Spread::median).orElse(stacked);
      data.addValue(Math.max(0, total - stacked), "other", mib + " MiB");
    }
    JFreeChart chart = ChartFactory.createStackedBarChart("ums phase breakdown (median), link " + link,
        "memory size", "ms", data, PlotOrientation.VERTICAL, true, false, false);
    chart.setBackgroundPaint(Color.WHITE);
    CategoryPlot plot = chart.getCategoryPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    ((BarRenderer) plot.getRenderer()).setBarPainter(new StandardBarPainter());
    return chart;
  }
}
