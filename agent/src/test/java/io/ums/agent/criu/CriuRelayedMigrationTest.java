package io.ums.agent.criu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.agent.dataplane.DumpPageSocket;
import io.ums.agent.dataplane.PageServerConnector;
import io.ums.testkit.MemService;
import io.ums.testkit.MemServiceClient;
import io.ums.testkit.NetworkTestbed;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetSocket;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CRIU path without the agent: real CRIU, two real network namespaces. {@code criu dump --page-server}
 * in node A streams through a Java relay (the test JVM, on the bridge) into {@code criu page-server} in
 * node B; the small images follow by copy; {@code criu restore} in B. The {@link PostDumpGate} holds the
 * frozen source until the verdict: commit (source stays stopped, then killed) or rollback (CRIU resumes
 * it and unlocks its connections).
 */
@Tag("slow")
class CriuRelayedMigrationTest {
  private static final int PORT = 17001;
  private static final Path CRIU = Path.of("/usr/local/sbin/criu");

  @TempDir
  Path tmp;

  private Vertx vertx;
  private NetworkTestbed testbed;
  private Path sessionRoot;
  private final List<Process> relays = new ArrayList<>();
  private final List<Long> workloads = new ArrayList<>();
  private final List<PostDumpGate> gates = new ArrayList<>();

  @BeforeEach
  void setUp() throws IOException {
    vertx = Vertx.vertx();
    testbed = NetworkTestbed.create("uam", 2);
    sessionRoot = Files.createDirectories(Path.of("/dev/shm", "uam-" + testbed.id()));
  }

  @AfterEach
  void tearDown() throws Exception {
    // before the namespaces go: a waiting post-dump script must see its connection close
    for (PostDumpGate gate : gates) {
      join(gate.close());
    }
    for (long pid : workloads) {
      ProcessTree.signalAll(pid, "KILL");
    }
    relays.forEach(Process::destroyForcibly);
    deleteTree(sessionRoot);
    testbed.close();
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void pagesRelayedToARemotePageServerRestoreWithMemoryAndCounterIntact() throws Exception {
    NetworkTestbed.Node a = testbed.node(0);
    NetworkTestbed.Node b = testbed.node(1);
    long source = launchMemService(a, 64);
    MemServiceClient.Answer before = MemServiceClient.verify(a.address(), PORT, 5000);
    Optional<Long> pipe = ProcessTree.pipeInode(source, 1);
    assertThat(pipe).isPresent();

    Dump dump = startDump(a, b, source);
    join(dump.gate.dumped());
    List<String> images = copyImages(dump.sourceImages, dump.destinationImages);
    assertThat(images).contains("inventory.img", "pstree.img");
    assertThat(dump.pageServer.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(dump.pageServer.exitValue()).isZero();
    assertThat(ProcessTree.state(source)).contains('t');

    Process restoredOutput = startOutputRelay(tmp.resolve("restored.log"));
    long restored = CriuRestore.run(CriuRunner.local(CRIU).inNetns(b.netnsPath()),
        new CriuRestore.Options(dump.destinationImages, dump.destinationWork, pipe,
            Path.of("/proc", Long.toString(restoredOutput.pid()), "fd", "0"), false), 30_000);
    workloads.add(restored);
    dump.gate.commit();
    assertThat(dump.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(dump.process.exitValue()).as(CriuDump.errors(dump.options)).isZero();
    ProcessTree.signalAll(source, "KILL");
    await().atMost(Duration.ofSeconds(5)).until(() -> !ProcessTree.alive(source));

    MemServiceClient.Answer after = MemServiceClient.verify(b.address(), PORT, 5000);
    assertThat(after.checksum()).isEqualTo(before.checksum());
    assertThat(after.counter()).isGreaterThan(before.counter());
    assertThat(ProcessTree.pipeInode(restored, 1)).isPresent().isNotEqualTo(pipe);
  }

  @Test
  void rollbackVerdictResumesTheSourceAndUnlocksItsConnections() throws Exception {
    NetworkTestbed.Node a = testbed.node(0);
    NetworkTestbed.Node b = testbed.node(1);
    long source = launchMemService(a, 16);
    MemServiceClient.Answer before = MemServiceClient.verify(a.address(), PORT, 5000);
    // a live connection from the host, so the dump locks something
    try (java.net.Socket held = new java.net.Socket(a.address(), PORT)) {
      Dump dump = startDump(a, b, source);
      join(dump.gate.dumped());
      assertThat(ProcessTree.state(source)).contains('t');
      dump.gate.rollback();
      assertThat(dump.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(dump.process.exitValue()).isNotZero();
      MemServiceClient.Answer after = await().atMost(Duration.ofSeconds(2)).ignoreExceptions()
          .until(() -> MemServiceClient.verify(a.address(), PORT, 1000), answer -> true);
      assertThat(after.checksum()).isEqualTo(before.checksum());
      assertThat(after.counter()).isGreaterThan(before.counter());
      String rules = io.ums.host.HostCommand.check(
          a.inNode(List.of("iptables", "-S")).toArray(String[]::new));
      assertThat(rules).doesNotContain("0xc114");
    }
  }

  @Test
  void whenCriuDiesAtTheGateTheFallbackRemovesItsLockRulesAndResumesTheSource() throws Exception {
    NetworkTestbed.Node a = testbed.node(0);
    NetworkTestbed.Node b = testbed.node(1);
    long source = launchMemService(a, 16);
    String checksum = MemServiceClient.verify(a.address(), PORT, 5000).checksum();
    NetworkLockRules rules = new NetworkLockRules(List.of("nsenter", "--net=" + a.netnsPath()));
    java.util.Set<String> before = rules.snapshot();
    try (java.net.Socket held = new java.net.Socket(a.address(), PORT)) {
      Dump dump = startDump(a, b, source);
      join(dump.gate.dumped());
      dump.process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      assertThat(rules.snapshot()).hasSizeGreaterThan(before.size());

      assertThat(rules.removeAddedSince(before)).isPositive();
      ProcessTree.signalAll(source, "CONT");
      assertThat(rules.snapshot()).isEqualTo(before);
      MemServiceClient.Answer after = await().atMost(Duration.ofSeconds(1)).ignoreExceptions()
          .until(() -> MemServiceClient.verify(a.address(), PORT, 500), answer -> true);
      assertThat(after.checksum()).isEqualTo(checksum);
    }
  }

  private record Dump(Process process, CriuDump.Options options, PostDumpGate gate, Process pageServer,
                      Path sourceImages, Path destinationImages, Path destinationWork) {}

  private Dump startDump(NetworkTestbed.Node a, NetworkTestbed.Node b, long source) throws Exception {
    Path sourceImages = Files.createDirectories(sessionRoot.resolve("src/images"));
    Path sourceWork = Files.createDirectories(sessionRoot.resolve("src/work"));
    Path destinationImages = Files.createDirectories(sessionRoot.resolve("dst/images"));
    Path destinationWork = Files.createDirectories(sessionRoot.resolve("dst/work"));
    int pageServerPort = 20000 + ThreadLocalRandom.current().nextInt(20000);
    Process pageServer = CriuPageServer.start(CriuRunner.local(CRIU).inNetns(b.netnsPath()), destinationImages,
        destinationWork, b.address(), pageServerPort);

    String host = testbed.hostAddress();
    PostDumpGate gate = join(PostDumpGate.listen(vertx, host));
    DumpPageSocket pageSocket = join(DumpPageSocket.listen(vertx, host));
    NetSocket toPageServer = join(PageServerConnector.connect(vertx, b.address(), pageServerPort, 5000));
    toPageServer.pause();
    pageSocket.accepted().onSuccess(fromDump -> {
      fromDump.pipeTo(toPageServer);
      toPageServer.pipeTo(fromDump.socket());
    });
    CriuDump.Options options = new CriuDump.Options(source, sourceImages, sourceWork, host, pageSocket.port(),
        gate.writeScript(sourceWork, Duration.ofMinutes(2)), false);
    gates.add(gate);
    Process process = CriuDump.start(CriuRunner.local(CRIU).inNetns(a.netnsPath()), options);
    return new Dump(process, options, gate, pageServer, sourceImages, destinationImages, destinationWork);
  }

  private long launchMemService(NetworkTestbed.Node node, int mib) throws Exception {
    Path binary = MemService.build(tmp.resolve("bin"));
    Process output = startOutputRelay(tmp.resolve("source.log"));
    List<String> command = node.inNode(List.of("setsid", "unshare", "--pid", "--fork", "--", "setsid",
        binary.toString(), Integer.toString(PORT), Integer.toString(mib)));
    Process unshare = new ProcessBuilder(command).directory(new File("/"))
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .redirectOutput(ProcessBuilder.Redirect.appendTo(
            Path.of("/proc", Long.toString(output.pid()), "fd", "0").toFile()))
        .redirectErrorStream(true).start();
    long init = await().atMost(Duration.ofSeconds(10)).until(() -> ProcessTree.members(unshare.pid()).stream()
        .filter(pid -> pid != unshare.pid()).findFirst().orElse(0L), pid -> pid > 0);
    workloads.add(init);
    await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
        .until(() -> MemServiceClient.query(node.address(), PORT, 1000), answer -> true);
    return init;
  }

  private Process startOutputRelay(Path log) throws IOException {
    Process relay = new ProcessBuilder("setsid", "sh", "-c", "exec cat >> \"$0\"", log.toString())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    relays.add(relay);
    return relay;
  }

  private static List<String> copyImages(Path from, Path to) throws IOException {
    List<String> names = new ArrayList<>();
    try (Stream<Path> files = Files.list(from)) {
      for (Path file : files.filter(path -> path.toString().endsWith(".img")).toList()) {
        Files.copy(file, to.resolve(file.getFileName()));
        names.add(file.getFileName().toString());
      }
    }
    return names;
  }

  private static <T> T join(Future<T> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    }
  }
}
