package io.ums.bench.protocol;

import io.ums.protocol.UmsVertx;
import io.ums.protocol.impl.DataPlaneTls;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * {@code ./ums bench protocol}: the same bytes over loopback through one UMS channel, four in
 * parallel, one LZ4 channel (random data), one and four channels under TLS 1.3, a raw Vert.x NetSocket
 * pipe and a blocking Java socket copy, all in one run. Each is measured five times after a warm-up, in a rotating order; the
 * fastest run counts, since the machine is shared and noisy. Ratios are against the raw Vert.x pipe.
 */
public final class ProtocolBench {
  public static final long DEFAULT_BYTES = 1L << 30;
  private static final int ROUNDS = 5;

  private ProtocolBench() {}

  /** Runs everything, prints a table, writes JSON when {@code jsonOut} is set; returns the exit code. */
  public static int run(Path jsonOut, long bytes) {
    Vertx vertx = UmsVertx.create();
    try {
      System.out.printf("ums bench protocol: %d MiB per run over loopback, native transport: %s, max heap %d MiB%n",
          bytes >> 20, vertx.isNativeTransportEnabled(), Runtime.getRuntime().maxMemory() >> 20);
      measureAll(vertx, Math.max(bytes / 8, 1 << 20), 0); // warm-up: JIT, pools
      resetPeakHeap();
      Map<String, BenchResult> best = new LinkedHashMap<>();
      for (int round = 0; round < ROUNDS; round++) {
        for (BenchResult result : measureAll(vertx, bytes, round)) {
          best.merge(result.name(), result, (a, b) -> a.seconds() <= b.seconds() ? a : b);
        }
      }
      List<BenchResult> results = new ArrayList<>(best.values());
      JsonObject report = report(results, peakHeapMiB()).put("tlsProvider", DataPlaneTls.providerName());
      print(results, report);
      if (jsonOut != null) {
        Files.writeString(jsonOut, report.encodePrettily());
        System.out.println("wrote " + jsonOut);
      }
      return 0;
    } catch (Exception e) {
      System.err.println("ums bench protocol failed: " + e);
      e.printStackTrace();
      return 1;
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().join();
    }
  }

  private static List<BenchResult> measureAll(Vertx vertx, long bytes, int rotation) throws Exception {
    List<Supplier<Future<BenchResult>>> runs = List.of(
        () -> RawVertxPipe.run(vertx, bytes),
        () -> UmsTransfer.run(vertx, "ums-1-channel", bytes, 1, false),
        () -> UmsTransfer.run(vertx, "ums-4-channels", bytes, 4, false),
        () -> UmsTransfer.run(vertx, "ums-lz4-random", bytes, 1, true),
        () -> UmsTransfer.run(vertx, "ums-1-channel-tls", bytes, 1, false, true),
        () -> UmsTransfer.run(vertx, "ums-4-channels-tls", bytes, 4, false, true),
        () -> vertx.executeBlocking(() -> BlockingSocketCopy.run(bytes)));
    List<BenchResult> results = new ArrayList<>();
    for (int i = 0; i < runs.size(); i++) {
      results.add(await(runs.get((i + rotation) % runs.size())));
    }
    return results;
  }

  private static BenchResult await(Supplier<Future<BenchResult>> run) throws Exception {
    long cpuBefore = processCpuNanos();
    BenchResult result = run.get().toCompletionStage().toCompletableFuture().get(10, TimeUnit.MINUTES);
    return new BenchResult(result.name(), result.bytes(), result.seconds(), (processCpuNanos() - cpuBefore) / 1e9);
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  static JsonObject report(List<BenchResult> results, long peakHeapMiB) {
    JsonArray array = new JsonArray();
    Map<String, BenchResult> byName = new LinkedHashMap<>();
    for (BenchResult r : results) {
      byName.put(r.name(), r);
      array.add(new JsonObject().put("name", r.name()).put("bytes", r.bytes()).put("seconds", r.seconds())
          .put("mbPerSec", r.mbPerSec()).put("cpuSeconds", r.cpuSeconds()));
    }
    double raw = byName.get("raw-vertx-netsocket").mbPerSec();
    JsonObject ratios = new JsonObject()
        .put("oneChannelVsRaw", byName.get("ums-1-channel").mbPerSec() / raw)
        .put("fourChannelsVsRaw", byName.get("ums-4-channels").mbPerSec() / raw)
        .put("lz4VsRaw", byName.get("ums-lz4-random").mbPerSec() / raw)
        .put("tlsOneChannelVsRaw", byName.get("ums-1-channel-tls").mbPerSec() / raw)
        .put("tlsFourChannelsVsRaw", byName.get("ums-4-channels-tls").mbPerSec() / raw)
        .put("tlsOneChannelVsPlain", byName.get("ums-1-channel-tls").mbPerSec() / byName.get("ums-1-channel").mbPerSec());
    return new JsonObject().put("results", array).put("ratios", ratios).put("peakHeapMiB", peakHeapMiB);
  }

  private static void print(List<BenchResult> results, JsonObject report) {
    System.out.printf("%-22s %12s %9s %10s %12s%n", "run", "bytes", "seconds", "MB/s", "cpu seconds");
    for (BenchResult r : results) {
      System.out.printf("%-22s %12d %9.3f %10.1f %12.3f%n", r.name(), r.bytes(), r.seconds(), r.mbPerSec(),
          r.cpuSeconds());
    }
    JsonObject ratios = report.getJsonObject("ratios");
    System.out.printf("ratios vs raw Vert.x pipe: 1 channel %.2f (target >= 0.9), 4 channels %.2f (>= 0.9), "
            + "lz4 random %.2f (>= 0.8)%n", ratios.getDouble("oneChannelVsRaw"), ratios.getDouble("fourChannelsVsRaw"),
        ratios.getDouble("lz4VsRaw"));
    System.out.printf("TLS 1.3 (%s): 1 channel %.2f of raw (target >= 0.7), 4 channels %.2f; "
            + "1 channel TLS/plain %.2f%n", DataPlaneTls.providerName(), ratios.getDouble("tlsOneChannelVsRaw"),
        ratios.getDouble("tlsFourChannelsVsRaw"), ratios.getDouble("tlsOneChannelVsPlain"));
    System.out.printf("peak heap used: %d MiB (target < 256)%n", report.getLong("peakHeapMiB"));
  }

  private static void resetPeakHeap() {
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        pool.resetPeakUsage();
      }
    }
  }

  /** Sum of the heap pools' peaks: an upper bound of the heap in use at any one time. */
  private static long peakHeapMiB() {
    long peak = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        peak += pool.getPeakUsage().getUsed();
      }
    }
    return peak >> 20;
  }
}
