package io.ums.agent.dataplane;

import static io.ums.agent.dataplane.LazyMigrationBed.PORT;
import static io.ums.agent.dataplane.LazyMigrationBed.join;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.ums.agent.criu.CriuDump;
import io.ums.agent.criu.CriuPageServer;
import io.ums.agent.criu.CriuRestore;
import io.ums.agent.criu.PostDumpGate;
import io.ums.agent.criu.ProcessTree;
import io.ums.testkit.MemServiceClient;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Post-copy migration of a real process tree with real CRIU 4.2.1 between two network-namespace nodes:
 * {@code criu dump --lazy-pages} in node A, its page server relayed over one real UMS connection (two
 * endpoints in this JVM, joined through a {@link CuttableLink}) to {@code criu lazy-pages} +
 * {@code criu restore --lazy-pages} in node B. The workload is the memory service (random memory, a
 * millisecond counter); a probe asks it for its counter every ~2 ms throughout.
 */
@Tag("slow")
class LazyMigrationTest {
  @TempDir
  Path tmp;

  private LazyMigrationBed bed;
  private int runs;

  @AfterEach
  void tearDown() throws Exception {
    if (bed != null) {
      bed.close();
    }
  }

  @Test
  void postCopyRunsTheServiceAtOnceAndItsPagesFollow() throws Exception {
    bed = new LazyMigrationBed(tmp, false);
    long source = bed.launchMemService(bed.a, 256);
    MemServiceClient.Answer before = MemServiceClient.verify(bed.a.address(), PORT, 10_000);
    try (MemServiceProbe probe = new MemServiceProbe(bed.a.address(), PORT, 250)) {
      await().atMost(Duration.ofSeconds(30)).until(() -> probe.okAnswers(bed.a.address()) >= 50);
      Figures figures = postCopy(source, 256, probe);
      System.out.println("post-copy 256 MiB: " + figures);

      MemServiceClient.Answer after = MemServiceClient.verify(bed.b.address(), PORT, 10_000);
      assertThat(after.checksum()).isEqualTo(before.checksum());
      assertThat(after.counter()).isGreaterThan(before.counter());
      assertThat(ProcessTree.alive(source)).as("the frozen source is gone once the last page arrived").isFalse();
      assertThat(figures.postCopyMs()).isPositive();
      assertThat(figures.copiedPages()).isEqualTo(figures.totalPages()).isGreaterThan(256L * 256 * 9 / 10);
      assertThat(figures.readAheadBytes()).as("the daemon took its pushed pages from the read-ahead")
          .isGreaterThan(figures.pushedPages() * 4096 * 9 / 10);
      assertThat(figures.pageBytes()).as("no page crossed twice").isLessThan(257L << 20);
      assertThat(figures.answersDuringPostCopy())
          .as("the service answered while its pages were still arriving").isPositive();
      assertThat(figures.failuresDuringPostCopy()).isZero();
      assertNothingLeft();
    }
  }

  @Test
  void downtimeAgainstStopAndCopyOfTheSameSize() throws Exception {
    bed = new LazyMigrationBed(tmp, false);
    List<String> table = new ArrayList<>();
    for (String size : System.getProperty("ums.lazy.sizes", "256").split(",")) {
      int mib = Integer.parseInt(size.trim());
      for (String mode : List.of("stop-and-copy", "post-copy")) {
        long source = bed.launchMemService(bed.a, mib);
        MemServiceClient.Answer before = MemServiceClient.verify(bed.a.address(), PORT, 30_000);
        Figures figures;
        try (MemServiceProbe probe = new MemServiceProbe(bed.a.address(), PORT, 250)) {
          await().atMost(Duration.ofSeconds(30)).until(() -> probe.okAnswers(bed.a.address()) >= 50);
          figures = mode.equals("post-copy") ? postCopy(source, mib, probe) : stopAndCopy(source, mib, probe);
        }
        MemServiceClient.Answer after = MemServiceClient.verify(bed.b.address(), PORT, 30_000);
        assertThat(after.checksum()).isEqualTo(before.checksum());
        assertThat(after.counter()).isGreaterThan(before.counter());
        table.add(mode + " " + mib + " MiB: " + figures);
        ProcessTree.signalAll(figures.restoredPid(), "KILL");
        await().atMost(Duration.ofSeconds(10)).until(() -> !ProcessTree.alive(figures.restoredPid()));
        assertNothingLeft();
      }
    }
    table.forEach(line -> System.out.println("FIGURES " + line));
  }

  @Test
  void aLinkCutDuringPostCopyKillsTheDestinationCopyAndTheSourceResumesFromTheFreeze() throws Exception {
    bed = new LazyMigrationBed(tmp, true);
    long source = bed.launchMemService(bed.a, 512);
    MemServiceClient.Answer before = MemServiceClient.verify(bed.a.address(), PORT, 10_000);
    Run run = startPostCopy(source, 512, null);
    await().atMost(Duration.ofSeconds(60)).until(() -> run.destination.restoredPid() > 0
        && run.destinationSocketBytes() > 8L << 20);
    long restored = run.destination.restoredPid();
    bed.link.cut();

    assertThatThrownBy(() -> join(run.destination.completion()))
        .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(PostCopyDestination.Fenced.class)
        .hasMessageContaining("the destination's copy was killed after");
    assertThat(ProcessTree.alive(restored)).isFalse();
    assertThatThrownBy(() -> join(run.source.lastPageDelivered())).isInstanceOf(ExecutionException.class);
    // the destination's verdict reaches the source some other way (the coordinator); here: directly
    assertThat(join(run.source.resume("destination fenced after a link cut"))).isTrue();

    MemServiceClient.Answer resumed = await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(bed.a.address(), PORT, 30_000), answer -> true);
    assertThat(resumed.checksum()).isEqualTo(before.checksum());
    assertThat(resumed.counter()).isGreaterThan(before.counter());
    join(run.destination.discard());
    assertNothingLeft();
  }

  @Test
  void theSourcesCriuDyingDuringPostCopyKillsTheDestinationCopyAndTheSourceResumes() throws Exception {
    bed = new LazyMigrationBed(tmp, false);
    long source = bed.launchMemService(bed.a, 512);
    MemServiceClient.Answer before = MemServiceClient.verify(bed.a.address(), PORT, 10_000);
    Run run = startPostCopy(source, 512, null);
    await().atMost(Duration.ofSeconds(60)).until(() -> run.destination.restoredPid() > 0
        && run.destinationSocketBytes() > 8L << 20);
    long restored = run.destination.restoredPid();
    run.source.dumpProcess().destroyForcibly();

    assertThatThrownBy(() -> join(run.destination.completion()))
        .hasCauseInstanceOf(PostCopyDestination.Fenced.class);
    assertThat(ProcessTree.alive(restored)).isFalse();
    assertThat(join(run.source.resume("the dump died"))).isTrue();
    MemServiceClient.Answer resumed = await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(bed.a.address(), PORT, 30_000), answer -> true);
    assertThat(resumed.checksum()).isEqualTo(before.checksum());
    assertThat(resumed.counter()).isGreaterThan(before.counter());
    join(run.destination.discard());
    assertNothingLeft();
  }

  @Test
  void theDestinationAgentDyingDuringPostCopyHasItsCopyKilledBeforeTheDaemonLetsGo() throws Exception {
    bed = new LazyMigrationBed(tmp, false);
    long source = bed.launchMemService(bed.a, 512);
    MemServiceClient.Answer before = MemServiceClient.verify(bed.a.address(), PORT, 10_000);
    Run run = startPostCopy(source, 512, null);
    await().atMost(Duration.ofSeconds(60)).until(() -> run.destination.restoredPid() > 0
        && run.destinationSocketBytes() > 8L << 20);
    long restored = run.destination.restoredPid();
    // what the agent's death does to the guard: its control pipe ends (the relay connection follows)
    run.destination.guard().process().getOutputStream().close();

    assertThat(run.destination.guard().process().waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(ProcessTree.alive(restored)).isFalse();
    String guardLog = Files.readString(run.dirs()[2].resolve(io.ums.agent.criu.LazyPagesGuard.LOG));
    assertThat(guardLog).contains("the agent went away: killed restored tree " + restored + " (gone)");
    assertThat(guardLog.indexOf("(gone)")).isLessThan(guardLog.indexOf("closing the daemon's connection"));
    assertThatThrownBy(() -> join(run.destination.completion()))
        .hasCauseInstanceOf(PostCopyDestination.Fenced.class);
    assertThat(join(run.source.resume("the destination agent died"))).isTrue();
    MemServiceClient.Answer resumed = await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> MemServiceClient.verify(bed.a.address(), PORT, 30_000), answer -> true);
    assertThat(resumed.checksum()).isEqualTo(before.checksum());
    assertThat(resumed.counter()).isGreaterThan(before.counter());
    join(run.destination.discard());
    assertNothingLeft();
  }

  @Test
  void aRestoreThatFailsRollsTheFrozenSourceBackThroughTheGate() throws Exception {
    bed = new LazyMigrationBed(tmp, false);
    long source = bed.launchMemService(bed.a, 64);
    MemServiceClient.Answer before = MemServiceClient.verify(bed.a.address(), PORT, 10_000);
    // the service's port is taken on node B: criu restore cannot bind its listener there
    Process squatter = new ProcessBuilder(bed.b.inNode(List.of("python3", "-c",
        "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
            + "s.bind(('0.0.0.0', " + PORT + ")); s.listen(); time.sleep(600)"))).start();
    try {
      await().atMost(Duration.ofSeconds(10)).until(() -> bed.listenersIn(bed.b).contains(":" + PORT));
      Run run = startPostCopy(source, 64, null);
      assertThatThrownBy(() -> join(run.restored)).hasMessageContaining("restore");
      assertThat(join(run.source.rollback())).isTrue();
      MemServiceClient.Answer resumed = await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
          .until(() -> MemServiceClient.verify(bed.a.address(), PORT, 30_000), answer -> true);
      assertThat(resumed.checksum()).isEqualTo(before.checksum());
      assertThat(resumed.counter()).isGreaterThan(before.counter());
      assertThat(run.source.dumpProcess().exitValue()).as("CRIU rolled back: the gate said no").isNotZero();
      // CRIU finished its rollback by itself (it was not left in accept() to be killed by the bound)
      assertThat(Files.readString(run.dirs()[3].resolve(io.ums.agent.criu.CriuLazyDump.LOG)))
          .contains("Dumping FAILED");
      String rules = String.join("\n", io.ums.host.HostCommand.run(
          bed.a.inNode(List.of("iptables", "-S")).toArray(String[]::new)).output());
      assertThat(rules).doesNotContain("0xc114");
      join(run.destination.discard());
      assertNothingLeft();
    } finally {
      squatter.destroyForcibly();
    }
  }

  // ---- the two migrations ------------------------------------------------------------------------------

  /** One post-copy migration in flight: both halves and the future of the restore. */
  record Run(PostCopySource source, PostCopyDestination destination, io.vertx.core.Future<Long> restored,
             long startNanos, long dumpedNanos, Path[] dirs) {
    long destinationSocketBytes() {
      return destination.pagesBytes();
    }
  }

  private Run startPostCopy(long pid, int mib, MemServiceProbe probe) throws Exception {
    int n = ++runs;
    Path srcImages = bed.dir("pc" + n + "/src/images");
    Path srcWork = bed.dir("pc" + n + "/src/work");
    Path dstImages = bed.dir("pc" + n + "/dst/images");
    Path dstWork = bed.dir("pc" + n + "/dst/work");
    Optional<Long> pipe = ProcessTree.pipeInode(pid, 1);
    Process output = bed.startOutputRelay(tmp.resolve("restored-" + n + ".log"));
    long start = System.nanoTime();
    PostCopySource source = join(PostCopySource.checkpoint(bed.vertx, new PostCopySource.Settings(bed.criuIn(bed.a),
        pid, srcImages, srcWork, bed.testbed.hostAddress(), bed.a.address(), Duration.ofMinutes(2), 30_000)));
    PostCopyDestination destination = join(PostCopyDestination.accept(bed.vertx, new PostCopyDestination.Settings(
        bed.criuIn(bed.b), dstImages, dstWork, bed.testbed.hostAddress(),
        new CriuRestore.Options(dstImages, dstWork, pipe, bed.stdinOf(output), false), 60_000),
        bed.destinationEnd, new JsonObject().put("workload", "memservice")));
    bed.atDestination(LazyPageChannels.PAGES, destination::pagesChannel);
    bed.atSource(LazyPageChannels.REQUESTS, channel -> source.serve(bed.sourceEnd, channel));
    bed.atSource("result", channel -> channel.handler(ignored -> { }));
    bed.onDestinationClosed(() -> destination.connectionLost("migration connection lost"));
    bed.onSourceClosed(() -> { });

    join(source.dumped());
    long dumped = System.nanoTime();
    join(bed.sendImages(srcImages, dstImages));
    if (probe != null) {
      probe.target(bed.b.address());
    }
    io.vertx.core.Future<Long> restored = destination.restore()
        .compose(root -> bed.destinationEnd.openChannel("result", new JsonObject().put("ok", true))
            .compose(channel -> channel.end()).map(root));
    return new Run(source, destination, restored, start, dumped, new Path[] {srcImages, dstImages, dstWork, srcWork});
  }

  private Figures postCopy(long pid, int mib, MemServiceProbe probe) throws Exception {
    Run run = startPostCopy(pid, mib, probe);
    long restored = join(run.restored);
    bed.workloads.add(restored);
    PostCopyDestination.Completion done = join(run.destination.completion());
    PostCopySource.Served served = join(run.source.finish());
    long end = System.nanoTime();
    MemServiceProbe.Sample lastAtSource = probe.lastOkBefore(bed.a.address(), run.startNanos());
    MemServiceProbe.Sample firstAtDestination = probe.firstOk(bed.b.address());
    assertThat(firstAtDestination).as("the destination answered").isNotNull();
    List<Long> beforeMicros = probe.answerMicros(bed.a.address(), 0, run.startNanos());
    List<Long> duringMicros = probe.answerMicros(bed.b.address(), done.restoredNanos(), done.lastPageNanos());
    return new Figures(mib, restored, ms(run.dumpedNanos() - served.frozenNanos()),
        ms(done.restoredNanos() - served.frozenNanos()),
        ms(firstAtDestination.endNanos() - served.frozenNanos()),
        ms(firstAtDestination.endNanos() - lastAtSource.endNanos()),
        ms(end - run.startNanos()), done.postCopyMillis(),
        done.stats().faults(), done.stats().pushedPages(), done.stats().copiedPages(), done.stats().totalPages(),
        done.bytes(), MemServiceProbe.percentile(beforeMicros, 50), MemServiceProbe.percentile(beforeMicros, 99),
        MemServiceProbe.percentile(duringMicros, 50), MemServiceProbe.percentile(duringMicros, 99),
        duringMicros.size(), probe.failures(bed.b.address(), done.restoredNanos(), done.lastPageNanos()),
        done.readAheadBytes());
  }

  /** The stop-and-copy path over the same UMS connection: dump --page-server relayed into criu page-server. */
  private Figures stopAndCopy(long pid, int mib, MemServiceProbe probe) throws Exception {
    int n = ++runs;
    Path srcImages = bed.dir("sc" + n + "/src/images");
    Path srcWork = bed.dir("sc" + n + "/src/work");
    Path dstImages = bed.dir("sc" + n + "/dst/images");
    Path dstWork = bed.dir("sc" + n + "/dst/work");
    Optional<Long> pipe = ProcessTree.pipeInode(pid, 1);
    Process output = bed.startOutputRelay(tmp.resolve("restored-" + n + ".log"));
    String host = bed.testbed.hostAddress();
    int pageServerPort = 20000 + ThreadLocalRandom.current().nextInt(20000);
    long start = System.nanoTime();
    Process pageServer = CriuPageServer.start(bed.criuIn(bed.b), dstImages, dstWork, bed.b.address(),
        pageServerPort);
    PostDumpGate gate = join(PostDumpGate.listen(bed.vertx, host));
    DumpPageSocket pageSocket = join(DumpPageSocket.listen(bed.vertx, host));
    bed.atDestination("criu-pages", channel -> {
      channel.pause();
      PageServerConnector.connect(bed.vertx, bed.b.address(), pageServerPort, 10_000).onSuccess(server -> {
        server.pause();
        bed.destinationEnd.openChannel("criu-pages-reply", new JsonObject()).onSuccess(reply -> {
          server.pipeTo(reply);
          channel.pipeTo(server);
          server.resume();
        });
      });
    });
    io.vertx.core.Promise<io.ums.protocol.IncomingChannel> reply = io.vertx.core.Promise.promise();
    bed.atSource("criu-pages-reply", channel -> {
      channel.pause();
      reply.complete(channel);
    });
    pageSocket.accepted().onSuccess(dumpSocket -> bed.sourceEnd.openChannel("criu-pages", new JsonObject())
        .onSuccess(pages -> {
          dumpSocket.pipeTo(pages);
          reply.future().onSuccess(channel -> channel.pipeTo(dumpSocket.socket()));
        }));
    CriuDump.Options options = new CriuDump.Options(pid, srcImages, srcWork, host, pageSocket.port(),
        gate.writeScript(srcWork, Duration.ofMinutes(2)), false);
    long frozen = System.nanoTime();
    Process dump = CriuDump.start(bed.criuIn(bed.a), options);
    try {
      join(gate.dumped());
      long dumped = System.nanoTime();
      assertThat(pageServer.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(pageServer.exitValue()).as(CriuPageServer.errors(dstWork)).isZero();
      join(bed.sendImages(srcImages, dstImages));
      probe.target(bed.b.address());
      long restored = CriuRestore.run(bed.criuIn(bed.b),
          new CriuRestore.Options(dstImages, dstWork, pipe, bed.stdinOf(output), false), 60_000);
      bed.workloads.add(restored);
      long restoredNanos = System.nanoTime();
      gate.commit();
      assertThat(dump.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(dump.exitValue()).as(CriuDump.errors(options)).isZero();
      ProcessTree.signalAll(pid, "KILL");
      long end = System.nanoTime();
      await().atMost(Duration.ofSeconds(30)).until(() -> probe.firstOk(bed.b.address()) != null);
      MemServiceProbe.Sample lastAtSource = probe.lastOkBefore(bed.a.address(), start);
      MemServiceProbe.Sample firstAtDestination = probe.firstOk(bed.b.address());
      List<Long> beforeMicros = probe.answerMicros(bed.a.address(), 0, start);
      List<Long> afterMicros = probe.answerMicros(bed.b.address(), restoredNanos, Long.MAX_VALUE);
      return new Figures(mib, restored, ms(dumped - frozen), ms(restoredNanos - frozen),
          ms(firstAtDestination.endNanos() - frozen),
          ms(firstAtDestination.endNanos() - lastAtSource.endNanos()), ms(end - start), 0, 0, 0, 0, 0, 0,
          MemServiceProbe.percentile(beforeMicros, 50), MemServiceProbe.percentile(beforeMicros, 99),
          MemServiceProbe.percentile(afterMicros, 50), MemServiceProbe.percentile(afterMicros, 99),
          afterMicros.size(), 0, 0);
    } finally {
      dump.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      pageServer.destroyForcibly();
      gate.close();
      pageSocket.close();
    }
  }

  /**
   * @param freezeToDumpedMs from the start of the dump to the post-dump gate (stop-and-copy: every page sent)
   * @param freezeToRestoredMs from the start of the dump to {@code criu restore} returning
   * @param freezeToFirstAnswerMs from the start of the dump to the first answer at the destination
   * @param probeGapMs from the probe's last answer at the source to its first at the destination
   */
  record Figures(int mib, long restoredPid, long freezeToDumpedMs, long freezeToRestoredMs, long freezeToFirstAnswerMs, long probeGapMs, long totalMs,
                 long postCopyMs, long faults, long pushedPages, long copiedPages, long totalPages, long pageBytes,
                 long p50BeforeMicros, long p99BeforeMicros, long p50DuringMicros, long p99DuringMicros,
                 long answersDuringPostCopy, long failuresDuringPostCopy, long readAheadBytes) {}

  private static long ms(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  private void assertNothingLeft() throws Exception {
    await().atMost(Duration.ofSeconds(10)).until(() -> bed.criuProcessesLeft().isEmpty());
    String listenersA = bed.listenersIn(bed.a);
    assertThat(listenersA.lines().filter(line -> !line.contains(":" + PORT)).toList())
        .as("no page server left listening on node A").isEmpty();
    bed.keepLogs();
    LazyMigrationBed.deleteTree(bed.sessionRoot);
    assertThat(Files.exists(bed.sessionRoot)).isFalse();
    Files.createDirectories(bed.sessionRoot);
  }
}
