package io.ums.bench;

import io.ums.bench.demo.DemoCommand;
import io.ums.bench.downtime.DowntimeCommand;
import io.ums.bench.downtime.FirstMigrationCommand;
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
      subcommands = {Bench.Protocol.class, DowntimeCommand.class, FirstMigrationCommand.class})
  static final class Bench implements Callable<Integer> {
    @Override
    public Integer call() {
      CommandLine.usage(this, System.err);
      return 2;
    }

    @Command(name = "protocol", mixinStandardHelpOptions = true,
        description = "1 GiB over loopback: UMS channels vs a raw Vert.x pipe vs a blocking socket copy.")
    static final class Protocol implements Callable<Integer> {
      @CommandLine.Option(names = "--json", description = "also write the results as JSON to this file")
      java.nio.file.Path json;

      @CommandLine.Option(names = "--bytes", description = "bytes per run (default: 1 GiB)")
      long bytes = io.ums.bench.protocol.ProtocolBench.DEFAULT_BYTES;

      @Override
      public Integer call() {
        return io.ums.bench.protocol.ProtocolBench.run(json, bytes);
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
