package io.ums.bench;

import io.ums.bench.demo.DemoCommand;
import io.ums.bench.downtime.DowntimeCommand;
import io.ums.bench.wire.WireCommand;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of the bench jar: {@code ./ums demo} and {@code ./ums bench <measurement>}.
 * Each measurement is a subcommand in its own package.
 */
@Command(name = "ums", mixinStandardHelpOptions = true,
    subcommands = {DemoCommand.class, BenchMain.Bench.class, WireCommand.class})
public final class BenchMain {

  @Command(name = "bench", mixinStandardHelpOptions = true,
      description = "Measurements against baselines in the same run.",
      subcommands = {Bench.Protocol.class, DowntimeCommand.class})
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
  }

  private BenchMain() {}

  public static void main(String[] args) {
    // the plots are rendered without a display
    System.setProperty("java.awt.headless", "true");
    System.exit(new CommandLine(new BenchMain()).execute(args));
  }
}
