package io.ums.bench.downtime;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./ums bench downtime}: the options of issue 6, then {@link DowntimeBench}. */
@Command(name = "downtime", mixinStandardHelpOptions = true,
    description = "Downtime and total migration time of ums (and ums-runc, ums-postcopy) vs rsync-ssh, criu-page-server and the wire, "
        + "on two network-namespace nodes; writes results.csv/json/md and PNG plots.")
public final class DowntimeCommand implements Callable<Integer> {
  public static final List<String> METHODS = List.of("ums", "rsync-ssh", "criu-page-server", "wire");
  /** The container method {@code --approach container} adds: the same memservice in a runc container. */
  public static final String CONTAINER_METHOD = "ums-runc";
  /** The memservice as a process moved with POST /migrate mode post-copy (not in the default set). */
  public static final String POST_COPY_METHOD = "ums-postcopy";

  /** process: the methods above; container: they plus {@link #CONTAINER_METHOD}. */
  enum Approach { process, container }

  @Option(names = "--approach", defaultValue = "process", paramLabel = "APPROACH",
      description = "process (default) or container: also measure ums-runc, the memservice in a runc container")
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
      if (!METHODS.contains(method) && !method.equals(CONTAINER_METHOD) && !method.equals(POST_COPY_METHOD)) {
        System.err.println("unknown method " + method + "; known: " + METHODS + ", " + CONTAINER_METHOD + " and "
            + POST_COPY_METHOD);
        return 2;
      }
    }
    DowntimeBench.Outcome outcome = new DowntimeBench(settings(), System.err).run();
    if (json) {
      System.out.println(ResultFiles.json(outcome.rows()).encodePrettily());
    }
    outcome.files().forEach(f -> System.err.println("wrote " + f));
    return outcome.rows().stream().anyMatch(ResultRow::ok) ? 0 : 1;
  }

  DowntimeBench.Settings settings() {
    String command = "./ums bench downtime --sizes " + join(sizes) + " --link " + String.join(",", links)
        + " --runs " + runs + (compressible ? " --compressible" : "")
        + (methods.equals(METHODS) ? "" : " --methods " + String.join(",", methods))
        + (approach == Approach.container ? " --approach container" : "");
    List<String> measured = new ArrayList<>(methods);
    if (approach == Approach.container && !measured.contains(CONTAINER_METHOD)) {
      // right after ums: the two rows to compare are measured back to back
      measured.add(measured.contains("ums") ? measured.indexOf("ums") + 1 : 0, CONTAINER_METHOD);
    }
    return new DowntimeBench.Settings(sizes, links, runs, out.toAbsolutePath(), compressible,
        List.copyOf(measured), netnsPrefix, port, command);
  }

  private static String join(List<Integer> values) {
    return String.join(",", values.stream().map(String::valueOf).toList());
  }
}
