package io.ums.bench;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of the bench jar: {@code ./ums demo} and {@code ./ums bench <measurement>}.
 * Each measurement is a subcommand in its own package.
 */
@Command(name = "ums", mixinStandardHelpOptions = true,
    subcommands = {BenchMain.Demo.class, BenchMain.Bench.class})
public final class BenchMain {

  @Command(name = "demo", mixinStandardHelpOptions = true,
      description = "A real two-node migration in local mode, printing downtime and phase breakdown.")
  static final class Demo implements Callable<Integer> {
    @Override
    public Integer call() {
      System.err.println("ums demo: not built yet (issue 5)");
      return 2;
    }
  }

  @Command(name = "bench", mixinStandardHelpOptions = true,
      description = "Measurements against baselines in the same run.",
      subcommands = {Bench.Protocol.class, Bench.Downtime.class})
  static final class Bench implements Callable<Integer> {
    @Override
    public Integer call() {
      CommandLine.usage(this, System.err);
      return 2;
    }

    @Command(name = "protocol", mixinStandardHelpOptions = true,
        description = "1 GiB over loopback: UMS channels vs a raw Vert.x pipe vs a blocking socket copy.")
    static final class Protocol implements Callable<Integer> {
      @Override
      public Integer call() {
        System.err.println("ums bench protocol: not built yet (issue 3)");
        return 2;
      }
    }

    @Command(name = "downtime", mixinStandardHelpOptions = true,
        description = "Downtime and total migration time vs rsync-ssh, criu-page-server and the wire.")
    static final class Downtime implements Callable<Integer> {
      @Override
      public Integer call() {
        System.err.println("ums bench downtime: not built yet (issue 6)");
        return 2;
      }
    }
  }

  private BenchMain() {}

  public static void main(String[] args) {
    System.exit(new CommandLine(new BenchMain()).execute(args));
  }
}
