package io.ums.agent.workload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.host.HostCommand;
import io.ums.testkit.MemService;
import io.ums.testkit.MemServiceClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's process layout is what CRIU needs: a workload launched by the registry is dumped with the
 * real CRIU and restored on the same host (its own PID namespace makes that possible) with its output pipe
 * handed to a new relay through {@code --inherit-fd}, exactly as {@link OutputRelay} documents for the
 * migration engine; the restored service keeps its memory and counter, and its output reaches the new log.
 */
@Tag("slow")
class CheckpointableWorkloadTest {
  private Vertx vertx;
  private ProcessWorkloads workloads;
  private final List<ProcessIdentity> leftovers = new ArrayList<>();

  @AfterEach
  void cleanUp() throws Exception {
    leftovers.forEach(ProcessIdentity::kill);
    if (workloads != null) {
      workloads.stop();
    }
    if (vertx != null) {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  /**
   * CRIU's parasite mounts a proc at {@code proc.crtools} in the task's cwd (a workload's PID namespace does
   * not own the node's /proc): a dump in progress holds that name. Each workload has a cwd of its own, so a
   * dump of one never meets the mount point of another's dump; within one cwd it fails, as CI saw with "/".
   */
  @Test
  void eachWorkloadHasAWorkingDirectoryOfItsOwnSoDumpsDoNotCollideOnCriusProcMount(@TempDir Path dir)
      throws Exception {
    vertx = Vertx.vertx();
    workloads = new ProcessWorkloads(vertx, dir.resolve("work"));
    result(workloads.start());
    List<Path> cwds = new ArrayList<>();
    List<Long> pids = new ArrayList<>();
    for (String name : List.of("first", "second")) {
      Workload launched = result(workloads.launch(new WorkloadSpec(name, WorkloadSpec.KIND_PROCESS, null, null,
          List.of("/bin/sleep", "300"), Map.of())));
      leftovers.add(ProcessIdentity.of(launched.pid()).orElseThrow());
      pids.add(launched.pid());
      cwds.add(Files.readSymbolicLink(Path.of("/proc", Long.toString(launched.pid()), "cwd")));
    }
    assertThat(cwds).allSatisfy(cwd -> assertThat(cwd).startsWith(WorkingDirectories.ROOT)).doesNotHaveDuplicates();

    Path heldByAnotherDump = Files.createDirectory(cwds.get(0).resolve("proc.crtools"));
    try {
      HostCommand.Result collides = HostCommand.run("criu", "dump", "-t", Long.toString(pids.get(0)), "-D",
          Files.createDirectories(dir.resolve("images-first")).toString(), "-o", "dump.log", "--leave-running");
      assertThat(collides.exitCode()).as("a dump whose parasite finds proc.crtools taken").isNotZero();
      assertThat(Files.readString(dir.resolve("images-first/dump.log"))).contains("Can't create a directory (-17)");
      Path images = Files.createDirectories(dir.resolve("images-second"));
      HostCommand.Result dump = HostCommand.run("criu", "dump", "-t", Long.toString(pids.get(1)), "-D",
          images.toString(), "-o", "dump.log", "--leave-running");
      assertThat(dump.exitCode()).as(dump.output() + tail(images.resolve("dump.log"))).isZero();
    } finally {
      Files.deleteIfExists(heldByAnotherDump);
    }
  }

  @Test
  void aLaunchedWorkloadIsDumpedAndRestoredWithItsOutputOnANewRelay(@TempDir Path dir) throws Exception {
    Path binary = MemService.build(dir.resolve("build"));
    vertx = Vertx.vertx();
    workloads = new ProcessWorkloads(vertx, dir.resolve("work"));
    result(workloads.start());
    int port = ProcessWorkloadsTest.freePort();
    WorkloadSpec spec = new WorkloadSpec("mem", WorkloadSpec.KIND_PROCESS, null, null,
        List.of(binary.toString(), Integer.toString(port), "8"), Map.of());
    Workload launched = result(workloads.launch(spec));
    leftovers.add(ProcessIdentity.of(launched.pid()).orElseThrow());
    MemServiceClient.Answer before = await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
        .until(() -> MemServiceClient.verify("127.0.0.1", port, 2000), answer -> true);
    String pipe = Files.readSymbolicLink(Path.of("/proc", Long.toString(launched.pid()), "fd", "1")).toString();
    assertThat(pipe).startsWith("pipe:[");

    Path images = Files.createDirectories(dir.resolve("images"));
    HostCommand.Result dump = HostCommand.run("criu", "dump", "-t", Long.toString(launched.pid()), "-D",
        images.toString(), "-o", "dump.log", "-v2");
    assertThat(dump.exitCode()).as(dump.output() + tail(images.resolve("dump.log"))).isZero();
    await().atMost(Duration.ofSeconds(10)).until(() -> workloads.find(launched.id()).orElseThrow().status()
        == WorkloadStatus.EXITED);

    OutputRelay relay = result(workloads.openRelay(spec.name()));
    leftovers.add(relay.identity());
    Path pidFile = images.resolve("restored.pid");
    Process restore = new ProcessBuilder("criu", "restore", "-d", "-D", images.toString(), "-o", "restore.log",
        "-v2", "--pidfile", pidFile.toString(), "--inherit-fd", "fd[1]:" + pipe)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(relay.writeEnd().toFile()))
        .redirectError(ProcessBuilder.Redirect.appendTo(images.resolve("restore.err").toFile())).start();
    assertThat(restore.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(restore.exitValue()).as(tail(images.resolve("restore.log"))).isZero();
    long pid = Long.parseLong(Files.readString(pidFile).trim());
    leftovers.add(ProcessIdentity.of(pid).orElseThrow());

    Workload restored = result(workloads.adoptRestored(spec, pid, "m-local", relay.sink()));
    MemServiceClient.Answer after = MemServiceClient.verify("127.0.0.1", port, 5000);
    assertThat(after.checksum()).isEqualTo(before.checksum());
    assertThat(after.counter()).isGreaterThanOrEqualTo(before.counter());
    assertThat(restored.status()).isEqualTo(WorkloadStatus.RUNNING);
    assertThat(Files.readString(Path.of("/proc", Long.toString(pid), "status")))
        .containsPattern("NSpid:\\s+" + pid + "\\s+1\\n");
    // the restored service writes into the new relay's pipe (memservice prints only at start, so compare ends)
    assertThat(Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "fd", "1")))
        .isEqualTo(Files.readSymbolicLink(relay.writeEnd()));

    result(workloads.remove(restored.id()));
    result(workloads.remove(launched.id()));
    assertThat(ProcessIdentity.of(pid)).isEmpty();
    await().atMost(Duration.ofSeconds(5)).until(() -> !relay.identity().alive());
  }

  private static <T> T result(Future<T> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
    } catch (java.io.IOException e) {
      return "(no " + log.getFileName() + ")";
    }
  }
}
