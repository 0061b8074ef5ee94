package io.ums.bench.wire;

import java.net.InetSocketAddress;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Hidden {@code wire sink|send} subcommands: the two ends of the wire baseline, one per node namespace. */
@Command(name = "wire", hidden = true, subcommands = {WireCommand.Sink.class, WireCommand.Send.class},
    description = "The ends of the wire baseline (used by bench downtime).")
public final class WireCommand {
  @Command(name = "sink")
  static final class Sink implements Callable<Integer> {
    @Option(names = "--host", required = true) String host;
    @Option(names = "--port", required = true) int port;

    @Override
    public Integer call() throws Exception {
      long received = WireTransfer.sink(new InetSocketAddress(host, port), () -> {
        System.out.println("listening");
        System.out.flush();
      });
      System.out.println("received=" + received);
      return 0;
    }
  }

  @Command(name = "send")
  static final class Send implements Callable<Integer> {
    @Option(names = "--host", required = true) String host;
    @Option(names = "--port", required = true) int port;
    @Option(names = "--bytes", required = true) long bytes;

    @Override
    public Integer call() throws Exception {
      System.out.println("elapsedMs=" + WireTransfer.send(new InetSocketAddress(host, port), bytes));
      return 0;
    }
  }
}
