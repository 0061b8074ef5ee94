package io.ums.bench.downtime;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./ums bench downtime}: the options of issue 6, then {@link DowntimeBench}. */
@Command(name = "downtime", mixinStandardHelpOptions = true,
    description = "Downtime and total migration time of ums (and ums-runc, ums-postcopy) vs rsync-ssh, criu-page-server"
        + " (and criu-lazy-pages, CRIU's own post-copy) and the wire, on two network-namespace nodes; with --approach pod, ums-pod (a pod on the real cluster) vs"
        + " ums; writes results.csv/json/md and PNG plots.")
public final class DowntimeCommand implements Callable<Integer> {
  public static final List<String> METHODS = List.of("ums", "rsync-ssh", "criu-page-server", "wire");
  /** The container method {@code --approach container} adds: the same memservice in a runc container. */
  public static final String CONTAINER_METHOD = "ums-runc";
  /** The memservice as a process moved with POST /migrate mode post-copy (not in the default set). */
  public static final String POST_COPY_METHOD = "ums-postcopy";

  /** CRIU's own post-copy, the baseline of {@link #POST_COPY_METHOD} (not in the default set). */
  public static final String LAZY_PAGES_BASELINE = CriuLazyPagesMethod.NAME;

  /** The memservice as a pod on the real cluster, moved with interface kubelet-consistent ({@code --approach pod}). */
  public static final String POD_METHOD = PodMethod.NAME;

  /** Methods measured only when named (or by their --approach). */
  private static final List<String> NAMED_ONLY = List.of(CONTAINER_METHOD, POST_COPY_METHOD, LAZY_PAGES_BASELINE,
      POD_METHOD);

  /**
   * process: the methods above; container: they plus {@link #CONTAINER_METHOD}; pod: {@link #POD_METHOD} against
   * ums (the same service as a process, local mode), on the unlimited link only.
   */
  enum Approach { process, container, pod }

  @Option(names = "--approach", defaultValue = "process", paramLabel = "APPROACH",
      description = "process (default); container: also measure ums-runc, the memservice in a runc container; pod:"
          + " ums-pod, the memservice as a pod on the real cluster of UMS_CLUSTER_ID (brought up unless it runs, UMS"
          + " deployed from deploy/), moved with interface kubelet-consistent, against ums (local mode's process"
          + " migration of the same service; --methods defaults to ums then), link unlimited")
  Approach approach;

  @Option(names = "--sizes", split = ",", defaultValue = "0,64,256,1024",
      description = "memory sizes in MiB (default: ${DEFAULT-VALUE})")
  List<Integer> sizes;

  @Option(names = "--link", split = ",", defaultValue = "1gbit,unlimited",
      description = "link rates (tc tbf), e.g. 1gbit, 100mbit, unlimited (default: ${DEFAULT-VALUE})")
  List<String> links;

  @Option(names = "--runs", defaultValue = "3", description = "runs per size, link and method (default: 3)")
  int runs;

  @Option(names = "--out", defaultValue = "bench-results/downtime", description = "output directory (default: ${DEFAULT-VALUE})")
  Path out;

  @Option(names = "--json", description = "also print results.json to stdout")
  boolean json;

  @Option(names = "--compressible",
      description = "workload memory partly zero/repetitive (realistic) instead of random")
  boolean compressible;

  @Option(names = "--methods", split = ",", defaultValue = "ums,rsync-ssh,criu-page-server,wire",
      description = "which methods to run (default: all)")
  List<String> methods;

  @Option(names = "--netns-prefix", hidden = true, defaultValue = "umsb")
  String netnsPrefix;

  @Option(names = "--port", hidden = true, defaultValue = "7000", description = "the workload's TCP port")
  int port;

  @Override
  public Integer call() throws Exception {
    for (String method : methods) {
      if (!METHODS.contains(method) && !NAMED_ONLY.contains(method)) {
        System.err.println("unknown method " + method + "; known: " + METHODS + " and " + NAMED_ONLY);
        return 2;
      }
    }
    if (approach == Approach.pod && !podLinks().equals(List.of("unlimited"))) {
      System.err.println("--approach pod runs on --link unlimited only (the cluster's node links are not limited),"
          + " not " + String.join(",", links));
      return 2;
    }
    DowntimeBench.Outcome outcome = new DowntimeBench(settings(), System.err).run();
    if (json) {
      System.out.println(ResultFiles.json(outcome.rows()).encodePrettily());
    }
    if (approach == Approach.pod) {
      System.out.print(PodComparison.describe(outcome.rows()));
    }
    outcome.files().forEach(f -> System.err.println("wrote " + f));
    return outcome.rows().stream().anyMatch(ResultRow::ok) ? 0 : 1;
  }

  DowntimeBench.Settings settings() {
    String command = "./ums bench downtime --sizes " + join(sizes) + " --link "
        + String.join(",", approach == Approach.pod ? podLinks() : links)
        + " --runs " + runs + (compressible ? " --compressible" : "")
        + (methods.equals(METHODS) ? "" : " --methods " + String.join(",", methods))
        + (approach == Approach.process ? "" : " --approach " + approach);
    if (approach == Approach.pod) {
      List<String> measured = new ArrayList<>(methods.equals(METHODS) ? List.of("ums") : methods);
      if (!measured.contains(POD_METHOD)) {
        // right after ums: the two rows to compare are measured back to back
        measured.add(measured.contains("ums") ? measured.indexOf("ums") + 1 : 0, POD_METHOD);
      }
      return new DowntimeBench.Settings(sizes, podLinks(), runs, out.toAbsolutePath(), compressible,
          List.copyOf(measured), netnsPrefix, port, command);
    }
    List<String> measured = new ArrayList<>(methods);
    if (approach == Approach.container && !measured.contains(CONTAINER_METHOD)) {
      // right after ums: the two rows to compare are measured back to back
      measured.add(measured.contains("ums") ? measured.indexOf("ums") + 1 : 0, CONTAINER_METHOD);
    }
    return new DowntimeBench.Settings(sizes, links, runs, out.toAbsolutePath(), compressible,
        List.copyOf(measured), netnsPrefix, port, command);
  }

  /** The links of --approach pod: unlimited, unless the user named others (refused in {@link #call}). */
  private List<String> podLinks() {
    return links.equals(List.of("1gbit", "unlimited")) ? List.of("unlimited") : links;
  }

  private static String join(List<Integer> values) {
    return String.join(",", values.stream().map(String::valueOf).toList());
  }
}
