package io.ums.testkit;

import io.ums.host.HostCommand;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real network namespaces, veths, a bridge and tc, with the real C memory service inside a node. */
class NetworkTestbedTest {
  private NetworkTestbed testbed;
  private Process service;

  @AfterEach
  void cleanUp() {
    if (service != null) {
      service.destroyForcibly();
    }
    if (testbed != null) {
      testbed.close();
    }
  }

  @Test
  void nodesAreReachableFromTheHostAndEachOtherAndCleanedUp(@TempDir Path dir) throws Exception {
    Path binary = MemService.build(dir);
    testbed = NetworkTestbed.create("utb", 2);
    NetworkTestbed.Node b = testbed.node(1);

    List<String> command = new ArrayList<>(List.of(binary.toString(), "17001", "4"));
    service = new ProcessBuilder(b.inNode(command)).redirectErrorStream(true).start();
    MemServiceClient.Answer fromHost = await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(b.address(), 17001, 1000), answer -> true);
    assertThat(fromHost.checksum()).hasSize(16);

    // node a reaches node b through the bridge
    String fromNodeA = HostCommand.check(testbed.node(0).inNode(List.of("bash", "-c",
        "exec 3<>/dev/tcp/" + b.address() + "/17001; printf 'c\\n' >&3; head -1 <&3")).toArray(String[]::new));
    assertThat(fromNodeA).endsWith(fromHost.checksum());

    testbed.limitRate("100mbit");
    assertThat(HostCommand.check("tc", "qdisc", "show", "dev", b.vethHost())).contains("tbf");
    testbed.limitRate("unlimited");
    assertThat(HostCommand.check("tc", "qdisc", "show", "dev", b.vethHost())).doesNotContain("tbf");

    // a process left running inside a node (the nsenter'd service here) is killed by close()
    String id = testbed.id();
    long servicePid = service.toHandle().descendants().map(ProcessHandle::pid).findFirst().orElse(service.pid());
    testbed.close();
    testbed = null;
    await().atMost(Duration.ofSeconds(5)).until(() -> ProcessHandle.of(servicePid).map(h -> !h.isAlive()).orElse(true));
    service.destroyForcibly().waitFor();
    service = null;
    testbed = null;
    assertThat(HostCommand.check("ip", "netns", "list")).doesNotContain(id);
    assertThat(HostCommand.check("ip", "-o", "link", "show")).doesNotContain(id);
  }

  /**
   * A bridge a killed run left behind (no port, link down) keeps its /24's route, and the route that came
   * first wins: a testbed built on the same subnet had nodes the host could not reach (CI: an agent up and
   * idle whose /health stayed unreachable for 90 s). create() moves on to a subnet of its own.
   */
  @Test
  void aSubnetThatABridgeLeftBehindStillRoutesIsNotUsed(@TempDir Path dir) throws Exception {
    // 10.199.x.0/24: outside the range create() draws from, so no concurrent testbed can hold it
    String leftSubnet = "10.199." + ThreadLocalRandom.current().nextInt(256) + ".";
    String leftBridge = "utl" + Integer.toString(ThreadLocalRandom.current().nextInt(36 * 36 * 36), 36) + "br";
    HostCommand.check("ip", "link", "add", leftBridge, "type", "bridge");
    try {
      HostCommand.check("ip", "addr", "add", leftSubnet + "254/24", "dev", leftBridge);
      HostCommand.check("ip", "link", "set", leftBridge, "up");
      Iterator<String> subnets = Stream.concat(Stream.of(leftSubnet), Stream.generate(NetworkTestbed::randomSubnet))
          .iterator();

      testbed = NetworkTestbed.create("utb", 2, subnets::next);

      assertThat(testbed.hostAddress()).doesNotStartWith(leftSubnet);
      NetworkTestbed.Node b = testbed.node(1);
      service = new ProcessBuilder(b.inNode(List.of(MemService.build(dir).toString(), "17001", "4")))
          .redirectErrorStream(true).start();
      assertThat(await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
          .until(() -> MemServiceClient.verify(b.address(), 17001, 1000), answer -> true).checksum()).hasSize(16);
    } finally {
      HostCommand.run("ip", "link", "del", leftBridge);
    }
  }

  /**
   * Another checkout's build runs the same tests on this machine at the same time: its testbeds have the same
   * prefix, and the sweep a test runs before building its own (LocalModeBed, the benches) must leave them be.
   * Before, it deleted them, and that run's agents were cut off from its host mid-test. What a killed run left
   * (here a bridge whose testbed has no namespace any more) still goes.
   */
  @Test
  void theSweepOfStaleTestbedsLeavesALiveOneAloneAndRemovesALeftBridge() throws Exception {
    testbed = NetworkTestbed.create("uts", 2);
    String leftBridge = "uts" + Integer.toString(ThreadLocalRandom.current().nextInt(36 * 36 * 36), 36) + "br";
    HostCommand.check("ip", "link", "add", leftBridge, "type", "bridge");
    try {
      NetworkTestbed.removeStale("uts");

      assertThat(HostCommand.check("ip", "netns", "list")).contains(testbed.node(0).netns(), testbed.node(1).netns());
      assertThat(testbed.node(1).routeFromHost()).contains("dev " + testbed.id() + "br");
      assertThat(HostCommand.check("ip", "netns", "exec", testbed.node(1).netns(), "ip", "-o", "addr", "show"))
          .contains(testbed.node(1).address() + "/24");
      assertThat(HostCommand.run("ip", "link", "show", leftBridge).ok()).as(leftBridge + " removed").isFalse();
    } finally {
      HostCommand.run("ip", "link", "del", leftBridge);
    }
  }
}
