package io.ums.bench.downtime;

import io.ums.testkit.NetworkTestbed;
import io.ums.bench.local.JsonHttp;
import java.net.InetSocketAddress;
import java.nio.file.Path;

/**
 * What every method shares in one bench run: the testbed (node 0 is the source, node 1 the destination),
 * the built memservice, scratch directories on disk and on tmpfs, and the progress line.
 */
public record BenchContext(
    NetworkTestbed testbed,
    Path memservice,
    Path diskScratch,
    Path tmpfsScratch,
    JsonHttp http,
    Progress progress,
    int workloadPort) {

  public NetworkTestbed.Node source() {
    return testbed.node(0);
  }

  public NetworkTestbed.Node destination() {
    return testbed.node(1);
  }

  public InetSocketAddress sourceAddress() {
    return new InetSocketAddress(source().address(), workloadPort);
  }

  public InetSocketAddress destinationAddress() {
    return new InetSocketAddress(destination().address(), workloadPort);
  }
}
