package io.ums.agent.workload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ums.testkit.MemService;
import io.ums.testkit.MemServiceClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The process workload registry on real processes: PID namespaces, relays, persistence, adoption. */
class ProcessWorkloadsTest {
  @TempDir
  Path workDir;
  private Vertx vertx;
  private final List<ProcessWorkloads> registries = new ArrayList<>();
  private final List<ProcessIdentity> leftovers = new ArrayList<>();

  @BeforeEach
  void startVertx() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void cleanUp() throws Exception {
    leftovers.forEach(ProcessIdentity::kill);
    registries.forEach(ProcessWorkloads::stop);
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  @Tag("slow")
  void theMemoryServiceRunsAnswersLogsAndIsKilledWithItsRelay(@TempDir Path buildDir) throws Exception {
    Path binary = MemService.build(buildDir);
    int port = freePort();
    ProcessWorkloads workloads = registry();
    Workload workload = result(workloads.launch(spec("mem", binary.toString(), Integer.toString(port), "16")));
    ProcessIdentity init = ProcessIdentity.of(workload.pid()).orElseThrow();
    leftovers.add(init);
    WorkloadRecord record = WorkloadStore.fromJson(new io.vertx.core.json.JsonObject(
        Files.readString(workDir.resolve("workloads").resolve(workload.id()).resolve("record.json"))));
    ProcessIdentity relay = record.relay().orElseThrow();
    leftovers.add(relay);

    MemServiceClient.Answer answer = await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
        .until(() -> MemServiceClient.verify("127.0.0.1", port, 2000), reply -> true);
    assertThat(answer.checksum()).hasSize(16);
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(result(workloads.logs(workload.id()))).contains("ready port=" + port));
    // the relay lives outside the workload's tree, in a session of its own
    assertThat(ProcessIdentity.stat(relay.pid()).orElseThrow().parentPid()).isNotEqualTo(init.pid());
    assertThat(sessionOf(relay.pid())).isEqualTo(relay.pid()).isNotEqualTo(sessionOf(init.pid()));

    result(workloads.remove(workload.id()));
    assertThat(init.alive()).as("workload killed").isFalse();
    assertThat(relay.alive()).as("relay gone").isFalse();
    assertThat(workloads.find(workload.id())).isEmpty();
  }

  @Test
  void aRemovedWorkloadTakesItsWorkingDirectoryWithItUnlessAProcessStillWorksThere() throws Exception {
    ProcessWorkloads workloads = registry();
    Workload removed = result(workloads.launch(spec("removed", "/bin/sh", "-c", "echo x > left-behind; sleep 600")));
    leftovers.add(ProcessIdentity.of(removed.pid()).orElseThrow());
    Path cwd = Files.readSymbolicLink(Path.of("/proc", Long.toString(removed.pid()), "cwd"));
    await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(cwd.resolve("left-behind")));
    Workload kept = result(workloads.launch(spec("kept", "/bin/sleep", "600")));
    leftovers.add(ProcessIdentity.of(kept.pid()).orElseThrow());
    Path sharedCwd = Files.readSymbolicLink(Path.of("/proc", Long.toString(kept.pid()), "cwd"));
    // on one machine a restored copy works in the source's directory: a process outside the registry there
    Process restoredCopy = new ProcessBuilder("/bin/sleep", "600").directory(sharedCwd.toFile()).start();
    leftovers.add(ProcessIdentity.of(restoredCopy.pid()).orElseThrow());

    result(workloads.remove(removed.id()));
    result(workloads.remove(kept.id()));

    // the removals release on the cleaner thread, in order: once a later release is done, so are they
    WorkingDirectories.release(java.util.Optional.empty()).get(30, TimeUnit.SECONDS);
    assertThat(cwd).as("the removed workload's directory, with what it wrote").doesNotExist();
    assertThat(sharedCwd).as("still the working directory of a live process").isDirectory();
    restoredCopy.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    WorkingDirectories.release(java.util.Optional.of(sharedCwd.toString())).get(30, TimeUnit.SECONDS);
    assertThat(sharedCwd).as("released once nothing works there").doesNotExist();
  }

  @Test
  void aRestartedRegistryFindsItsWorkloadsAndNoticesTheDeadOnes() throws Exception {
    ProcessWorkloads first = registry();
    Workload alive = result(first.launch(spec("stays", "/bin/sleep", "600")));
    Workload doomed = result(first.launch(spec("goes", "/bin/sleep", "600")));
    leftovers.add(ProcessIdentity.of(alive.pid()).orElseThrow());
    first.stop();

    // the agent is gone; one workload dies meanwhile, the other keeps running
    ProcessIdentity.of(doomed.pid()).orElseThrow().kill();
    await().atMost(Duration.ofSeconds(5)).until(() -> ProcessIdentity.of(doomed.pid()).isEmpty());

    ProcessWorkloads second = registry();
    assertThat(second.find(alive.id())).hasValueSatisfying(found -> {
      assertThat(found.pid()).isEqualTo(alive.pid());
      assertThat(found.status()).isEqualTo(WorkloadStatus.RUNNING);
      assertThat(found.spec()).isEqualTo(alive.spec());
      assertThat(found.createdAt()).isEqualTo(alive.createdAt());
    });
    assertThat(second.find(doomed.id()).map(Workload::status)).hasValue(WorkloadStatus.EXITED);
    result(second.remove(alive.id()));
    result(second.remove(doomed.id()));
    assertThat(second.list()).isEmpty();
  }

  @Test
  void aRecordWhosePidWasReusedByAnotherProcessIsExited() throws Exception {
    ProcessWorkloads first = registry();
    Workload workload = result(first.launch(spec("victim", "/bin/sleep", "600")));
    ProcessIdentity real = ProcessIdentity.of(workload.pid()).orElseThrow();
    leftovers.add(real);
    first.stop();
    // same PID, different start time: what a recycled PID looks like to the next agent
    Path recordFile = workDir.resolve("workloads").resolve(workload.id()).resolve("record.json");
    var json = new io.vertx.core.json.JsonObject(Files.readString(recordFile));
    Files.writeString(recordFile, json.put("pidStartTime", real.startTime() - 1).encode());

    ProcessWorkloads second = registry();
    assertThat(second.find(workload.id()).map(Workload::status)).hasValue(WorkloadStatus.EXITED);
    result(second.remove(workload.id()));
    assertThat(real.alive()).as("a stranger with the same PID is never killed").isTrue();
  }

  /** What the migration engine does on the destination: relay first, then a process writing to it, adopted. */
  @Test
  void aRestoredProcessIsAdoptedWithItsRelayAndPersisted() throws Exception {
    ProcessWorkloads workloads = registry();
    OutputRelay relay = result(workloads.openRelay("restored-one"));
    leftovers.add(relay.identity());
    // stands in for `criu restore -d` with CRIU's stdout opened on the relay's write end
    Process restored = new ProcessBuilder("setsid", "sh", "-c", "echo restored-output; exec sleep 600")
        .redirectOutput(ProcessBuilder.Redirect.appendTo(relay.writeEnd().toFile()))
        .redirectErrorStream(true).start();
    ProcessIdentity process = ProcessIdentity.of(restored.pid()).orElseThrow();
    leftovers.add(process);
    WorkloadSpec spec = spec("restored-one", "/bin/sleep", "600");

    Workload adopted = result(workloads.adoptRestored(spec, restored.pid(), "m-7", relay.sink()));
    assertThat(adopted.restoredFrom()).isEqualTo("m-7");
    assertThat(adopted.status()).isEqualTo(WorkloadStatus.RUNNING);
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(result(workloads.logs(adopted.id()))).isEqualTo("restored-output\n"));
    assertThat(result(registry().logs(adopted.id()))).as("persisted for the next agent")
        .isEqualTo("restored-output\n");

    result(workloads.remove(adopted.id()));
    assertThat(process.alive()).isFalse();
    await().atMost(Duration.ofSeconds(5)).until(() -> !relay.identity().alive());
  }

  @Test
  void aRelayClosedAfterAFailedRestoreLeavesNothingBehind() throws Exception {
    ProcessWorkloads workloads = registry();
    OutputRelay relay = result(workloads.openRelay("never-restored"));
    leftovers.add(relay.identity());
    assertThat(relay.logFile()).exists();
    vertx.executeBlocking(() -> {
      relay.close();
      return null;
    }).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertThat(relay.identity().alive()).isFalse();
    assertThat(relay.logFile().getParent()).doesNotExist();
    assertThat(workloads.list()).isEmpty();
  }

  @Test
  void aMigrationClaimIsExclusiveAndEnds() throws Exception {
    ProcessWorkloads workloads = registry();
    Workload workload = result(workloads.launch(spec("claimed", "/bin/sleep", "600")));
    leftovers.add(ProcessIdentity.of(workload.pid()).orElseThrow());
    assertThat(result(workloads.beginMigration(workload.id(), "m-1")).status()).isEqualTo(WorkloadStatus.MIGRATING);
    assertThat(failure(workloads.beginMigration(workload.id(), "m-2"))).isInstanceOf(WorkloadBusyException.class);
    assertThat(failure(workloads.remove(workload.id()))).isInstanceOf(WorkloadBusyException.class);
    assertThat(failure(workloads.beginMigration("w-unknown", "m-3")))
        .isInstanceOf(java.util.NoSuchElementException.class);
    workloads.endMigration(workload.id());
    assertThat(workloads.find(workload.id()).map(Workload::status)).hasValue(WorkloadStatus.RUNNING);
    result(workloads.remove(workload.id()));

    Workload brief = result(workloads.launch(spec("brief", "/bin/true")));
    await().atMost(Duration.ofSeconds(10)).until(() -> workloads.find(brief.id()).orElseThrow().status()
        == WorkloadStatus.EXITED);
    assertThat(failure(workloads.beginMigration(brief.id(), "m-4"))).isInstanceOf(WorkloadStateException.class)
        .hasMessageContaining("EXITED");
  }

  /**
   * The launch answers once the workload's own program runs: before, it answered as soon as unshare had
   * forked the init, whose argv was still unshare's (or setsid's, or empty inside execve), so a caller
   * reading /proc/PID/environ at once found it empty on a busy machine (issue 15, item 10).
   */
  @Test
  void aLaunchAnswersOnceTheProgramItselfRuns() throws Exception {
    for (int i = 0; i < 5; i++) {
      WorkloadSpec spec = new WorkloadSpec("exec-" + i, WorkloadSpec.KIND_PROCESS, null, null,
          List.of("/bin/sleep", "600"), Map.of("GREETING", "hi-" + i));
      ProcessLauncher.Launched launched = ProcessLauncher.launch(spec, workDir.resolve("exec-" + i + ".log"));
      ProcessIdentity init = launched.init().orElseThrow();
      leftovers.add(init);
      Path proc = Path.of("/proc", Long.toString(init.pid()));
      String argv = Files.readString(proc.resolve("cmdline"));
      String environment = Files.readString(proc.resolve("environ"));
      init.kill();
      launched.relay().close();
      assertThat(argv).isEqualTo("/bin/sleep\0" + "600\0");
      assertThat(environment).contains("GREETING=hi-" + i);
    }
  }

  private ProcessWorkloads registry() throws Exception {
    ProcessWorkloads workloads = new ProcessWorkloads(vertx, workDir);
    registries.add(workloads);
    result(workloads.start());
    return workloads;
  }

  private static WorkloadSpec spec(String name, String... command) {
    return new WorkloadSpec(name, WorkloadSpec.KIND_PROCESS, null, null, List.of(command), Map.of());
  }

  private static <T> T result(Future<T> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static Throwable failure(Future<?> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().handle((ok, error) -> error).get(30, TimeUnit.SECONDS);
  }

  private static long sessionOf(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    return Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[3]);
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
