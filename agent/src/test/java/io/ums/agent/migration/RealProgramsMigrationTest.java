package io.ums.agent.migration;

import static io.ums.agent.migration.RealPrograms.HTTP_PORT;
import static io.ums.agent.migration.RealPrograms.PYTHON;
import static io.ums.agent.migration.RealPrograms.REDIS;
import static io.ums.agent.migration.RealPrograms.REDIS_CLI;
import static io.ums.agent.migration.RealPrograms.REDIS_PORT;
import static io.ums.agent.migration.RealPrograms.httpGet;
import static io.ums.agent.migration.RealPrograms.resp;
import static org.assertj.core.api.Assertions.assertThat;

import io.ums.agent.criu.ProcessTree;
import io.ums.host.HostCommand;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Unmodified programs nobody here wrote, launched through POST /v1/workloads on node A, migrated to node B
 * through POST /v1/receive + POST /v1/send, and checked on B's address: Debian's redis-server (several
 * threads; in memory, then with a growing append-only file), busybox httpd, a Python program with 16
 * threads, a ThreadingHTTPServer and a loopback TCP connection inside itself, and a redis with a live
 * client connection from outside the node.
 *
 * <p>One pair of agents (two netns, real CRIU) serves the whole class; every test removes its workloads.
 * Each workload holds a few MiB only, so a migration takes well under a second.
 */
@Tag("slow")
class RealProgramsMigrationTest {
  private static final String BUSYBOX = "/bin/busybox";
  private static final int KEYS = 10_000;

  private static MigrationTestBed bed;
  @RegisterExtension
  static final SharedAgentPair AGENTS = new SharedAgentPair("ugn", started -> bed = started);

  @Test
  void redisInMemoryWithItsThreads() throws Exception {
    JsonObject workload = bed.launch(bed.a, "redis", List.of(REDIS, "--port", Integer.toString(REDIS_PORT),
        "--save", "", "--appendonly", "no", "--protected-mode", "no"));
    awaitRedis(bed.a);
    assertThat(threads(workload.getLong("pid"))).as("redis-server threads").isGreaterThan(1);
    writeKeys(bed.a, "key");

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

    RealPrograms.assertMovedTo(bed, bed.b, status, workload);
    assertKeys(bed.b, "key");
  }

  /**
   * The append-only file lives on the filesystem both nodes share here (in production: a shared volume);
   * redis keeps it open and growing. CRIU records its size at dump and checks it at restore: the frozen
   * source cannot grow it in between, so the sizes match, and the restored redis goes on appending.
   */
  @Test
  void redisWithAnOpenGrowingAppendOnlyFile() throws Exception {
    Path data = Files.createDirectories(AGENTS.dir().resolve("redis-aof"));
    JsonObject workload = bed.launch(bed.a, "redis-aof", List.of(REDIS, "--port", Integer.toString(REDIS_PORT),
        "--save", "", "--appendonly", "yes", "--dir", data.toString(), "--protected-mode", "no"));
    awaitRedis(bed.a);
    writeKeys(bed.a, "aof");
    long aofBefore = appendOnlyBytes(data);
    assertThat(aofBefore).as("append-only file size").isPositive();

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

    RealPrograms.assertMovedTo(bed, bed.b, status, workload);
    assertKeys(bed.b, "aof");
    assertThat(redisCli(bed.b, "SET", "after-migration", "yes")).isEqualTo("OK");
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> appendOnlyBytes(data) > aofBefore);
  }

  @Test
  void busyboxHttpdServingAFile() throws Exception {
    Path site = Files.createDirectories(AGENTS.dir().resolve("site"));
    Files.writeString(site.resolve("index.html"), "hello from busybox\n");
    JsonObject workload = bed.launch(bed.a, "httpd", List.of(BUSYBOX, "httpd", "-f", "-p",
        Integer.toString(HTTP_PORT), "-h", site.toString()));
    Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
        .until(() -> httpGet(bed.a, "/index.html"), "hello from busybox\n"::equals);

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

    RealPrograms.assertMovedTo(bed, bed.b, status, workload);
    assertThat(httpGet(bed.b, "/index.html")).isEqualTo("hello from busybox\n");
    // operators see it in the agents' metrics too (recorded as each side's migration ends)
    Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(bed.a.getText("/metrics"))
        .contains("ums_migrations_ended_total{outcome=\"DONE\",role=\"source\"}")
        .contains("ums_migration_downtime_seconds_count").contains("ums_migrations_in_flight 0.0"));
    Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(bed.b.getText("/metrics"))
        .contains("ums_migrations_ended_total{outcome=\"DONE\",role=\"destination\"}")
        .containsPattern("ums_migration_bytes_total\\{kind=\"raw\",role=\"destination\"} [1-9]"));
  }

  /**
   * A shell that stopped a child of its own (SIGSTOP, as job control does) and then became busybox httpd:
   * the child moves stopped and stays stopped on B, and the server serves there. A restored tree with any
   * stopped member used to be taken for a failed restore ("restored pid ... is not running").
   */
  @Test
  void aServerWithAChildItStoppedMovesWithTheChildStillStopped() throws Exception {
    JsonObject workload = launchHttpdBesideAStoppedChild("httpd-stopped-child", Integer.toString(HTTP_PORT));

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

    RealPrograms.assertMovedTo(bed, bed.b, status, workload);
    assertThat(httpGet(bed.b, "/index.html")).isEqualTo("served beside a stopped child\n");
    long restored = bed.b.get("/v1/workloads/" + status.getString("destinationWorkloadId")).getLong("pid");
    assertThat(sleepChildState(restored)).as("the child on B").isEqualTo('T');
  }

  /**
   * The same server bound to the source node's own address, so the destination refuses it after the
   * freeze: the migration rolls back, and the child the program had stopped is still stopped on A (the
   * rollback used to continue every process of the tree), while the server answers again. Post-copy too.
   */
  @Test
  void aChildTheProgramStoppedStaysStoppedWhenTheMigrationRollsBack() throws Exception {
    assertStoppedChildKeptThroughRollback(MigrationMode.STOP_AND_COPY);
  }

  @Test
  void aChildTheProgramStoppedStaysStoppedWhenAPostCopyMigrationRollsBack() throws Exception {
    assertStoppedChildKeptThroughRollback(MigrationMode.POST_COPY);
  }

  private void assertStoppedChildKeptThroughRollback(MigrationMode mode) throws Exception {
    JsonObject workload = launchHttpdBesideAStoppedChild("httpd-bound-stopped-child",
        bed.a.node.address() + ":" + HTTP_PORT);

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"), mode);

    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    assertThat(status.getJsonObject("error").getString("message")).contains("listens on " + bed.a.node.address());
    Awaitility.await().atMost(Duration.ofSeconds(5)).ignoreExceptions()
        .until(() -> httpGet(bed.a, "/index.html"), "served beside a stopped child\n"::equals);
    assertThat(sleepChildState(workload.getLong("pid"))).as("the child on A after the rollback").isEqualTo('T');
    assertThat(bed.workloads(bed.b)).isEmpty();
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  /**
   * Launches on A a shell that starts sleep, stops it, and becomes busybox httpd listening on {@code listen}
   * ({@code [address:]port}); returns once it serves and the child reads stopped.
   */
  private static JsonObject launchHttpdBesideAStoppedChild(String name, String listen) throws Exception {
    Path site = Files.createDirectories(AGENTS.dir().resolve("stopped-child-site"));
    Files.writeString(site.resolve("index.html"), "served beside a stopped child\n");
    JsonObject workload = bed.launch(bed.a, name, List.of("/bin/sh", "-c",
        "sleep 100000 & kill -STOP $! && exec " + BUSYBOX + " httpd -f -p " + listen + " -h " + site));
    Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
        .until(() -> httpGet(bed.a, "/index.html"), "served beside a stopped child\n"::equals);
    assertThat(sleepChildState(workload.getLong("pid"))).as("the child on A").isEqualTo('T');
    return workload;
  }

  /** The state of the child started as sleep (stopped maybe before its exec, so still named sh). */
  private static char sleepChildState(long root) throws IOException {
    for (long member : ProcessTree.members(root)) {
      String name = Files.readString(Path.of("/proc", Long.toString(member), "comm")).strip();
      if (member != root && (name.equals("sleep") || name.equals("sh"))) {
        return ProcessTree.state(member).orElse('?');
      }
    }
    throw new AssertionError("no sleep child below " + root + ": " + ProcessTree.members(root));
  }

  /**
   * 16 counting threads, a ThreadingHTTPServer, and an echo pair talking over a loopback TCP connection
   * inside the process: both ends of that connection are in the dumped tree and its addresses (127.0.0.1)
   * exist on every node, so it is restored established and keeps echoing.
   */
  @Test
  void pythonWithSixteenThreadsAndALoopbackConnection() throws Exception {
    Path script = AGENTS.dir().resolve("threads.py");
    try (InputStream in = Objects.requireNonNull(getClass().getResourceAsStream("/workloads/threads.py"))) {
      Files.copy(in, script, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    JsonObject workload = bed.launch(bed.a, "python-threads", List.of(PYTHON, script.toString(),
        Integer.toString(HTTP_PORT), "16"));
    PythonAnswer before = Awaitility.await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
        .until(() -> PythonAnswer.parse(httpGet(bed.a, "/")), answer -> answer.echoes() > 10);
    assertThat(before.threads()).as("python threads").isGreaterThanOrEqualTo(19);
    assertThat(threads(workload.getLong("pid"))).isGreaterThanOrEqualTo(19);

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

    RealPrograms.assertMovedTo(bed, bed.b, status, workload);
    PythonAnswer after = Awaitility.await().atMost(Duration.ofSeconds(5)).ignoreExceptions()
        .until(() -> PythonAnswer.parse(httpGet(bed.b, "/")), answer -> answer.echoes() > before.echoes() + 10);
    assertThat(after.ticks()).isGreaterThan(before.ticks());
    assertThat(after.threads()).isEqualTo(before.threads());
    assertThat(after.echoErrors()).isEqualTo("ok");
  }

  /**
   * A client outside the workload (here: the test, in the root namespace) holds a connection to redis on
   * A's address. That connection cannot follow the workload: its local address is A's and does not exist
   * on B (nodes do not share addresses). So the destination restores such connections closed
   * ({@code --tcp-close}) instead of failing the restore; the source node drops CRIU's lock rules once the
   * source is gone, so the client is told at once (reset) rather than left hanging; it reconnects to B.
   */
  @Test
  void redisWithALiveClientConnectionFromOutsideTheNode() throws Exception {
    JsonObject workload = bed.launch(bed.a, "redis-client", List.of(REDIS, "--port", Integer.toString(REDIS_PORT),
        "--save", "", "--appendonly", "no", "--protected-mode", "no"));
    awaitRedis(bed.a);
    writeKeys(bed.a, "live");
    try (Socket client = new Socket()) {
      client.connect(new InetSocketAddress(bed.a.node.address(), REDIS_PORT), 2000);
      client.setSoTimeout(2000);
      assertThat(resp(client, "PING")).isEqualTo("+PONG");

      JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

      RealPrograms.assertMovedTo(bed, bed.b, status, workload);
      assertKeys(bed.b, "live");
      // restored closed, the connection reads end-of-file at once and redis frees the client
      Awaitility.await().atMost(Duration.ofSeconds(2)).untilAsserted(() -> assertThat(redisCli(bed.b, "CLIENT",
          "LIST")).as("clients of the restored redis").doesNotContain("laddr=" + bed.a.node.address()));
      long started = System.nanoTime();
      assertThat(answersOnOldConnection(client)).as("the old connection is dead").isFalse();
      assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).as("ms until the client knew")
          .isLessThan(2000);
    }
  }

  /**
   * Files the way programs hold them: a pid file, a data file, an 8 MiB temporary file already unlinked
   * (CRIU carries it inside the images as a "ghost" file, by default only up to 1 MiB: the dump failed
   * before the agent raised the limit), and a journal it keeps appending to. After the move the temporary
   * file has the same bytes and the journal grows. (File locks are not covered: see the README.)
   */
  @Test
  void pythonHoldingOpenFilesAndADeletedTemporaryFile() throws Exception {
    Path script = AGENTS.dir().resolve("files.py");
    try (InputStream in = Objects.requireNonNull(getClass().getResourceAsStream("/workloads/files.py"))) {
      Files.copy(in, script, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    Path state = Files.createDirectories(AGENTS.dir().resolve("files-state"));
    JsonObject workload = bed.launch(bed.a, "python-files", List.of(PYTHON, script.toString(),
        Integer.toString(HTTP_PORT), state.toString()));
    String[] before = Awaitility.await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
        .until(() -> httpGet(bed.a, "/").strip().split(" "), answer -> Long.parseLong(answer[1]) > 10);

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

    RealPrograms.assertMovedTo(bed, bed.b, status, workload);
    String[] after = Awaitility.await().atMost(Duration.ofSeconds(5)).ignoreExceptions()
        .until(() -> httpGet(bed.b, "/").strip().split(" "), answer -> Long.parseLong(answer[1]) > Long.parseLong(
            before[1]));
    assertThat(after[0]).as("sha-256 of the deleted temporary file").isEqualTo(before[0]);
    long journalLines = Files.readAllLines(state.resolve("files.journal")).size();
    Awaitility.await().atMost(Duration.ofSeconds(5))
        .until(() -> Files.readAllLines(state.resolve("files.journal")).size() > journalLines);
  }

  /**
   * A server under load has connections the kernel completed but the program did not accept yet; CRIU
   * refuses to dump such a listening socket unless told to drop them. The client of a dropped connection
   * sees it reset and connects again, to the destination.
   */
  @Test
  void aServerWithAConnectionNotYetAccepted() throws Exception {
    String program = String.join("\n",
        "import socket, time",
        "s = socket.socket()",
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
        "s.bind(('0.0.0.0', " + HTTP_PORT + "))",
        "s.listen(16)",
        "time.sleep(3600)");
    JsonObject workload = bed.launch(bed.a, "never-accepts", List.of(PYTHON, "-c", program));
    try (Socket waiting = new Socket()) {
      Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> {
        waiting.connect(new InetSocketAddress(bed.a.node.address(), HTTP_PORT), 1000);
        return true;
      });

      JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

      RealPrograms.assertMovedTo(bed, bed.b, status, workload);
    }
    try (Socket again = new Socket()) {
      again.connect(new InetSocketAddress(bed.b.node.address(), HTTP_PORT), 2000);
    }
  }

  /** A JVM (the JDK running this test) with 16 worker threads and an HTTP server on a thread pool. */
  @Test
  void aJvmWithManyThreads() throws Exception {
    aJvmWithManyThreads(MigrationMode.STOP_AND_COPY);
  }

  /** The same JVM moved post-copy: its threads and its collector run on B while its heap still arrives. */
  @Test
  void aJvmWithManyThreadsPostCopy() throws Exception {
    aJvmWithManyThreads(MigrationMode.POST_COPY);
  }

  private void aJvmWithManyThreads(MigrationMode mode) throws Exception {
    Path source = AGENTS.dir().resolve("ThreadsServer.java");
    try (InputStream in = Objects.requireNonNull(getClass().getResourceAsStream("/workloads/ThreadsServer.java"))) {
      Files.copy(in, source, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    JsonObject workload = bed.launch(bed.a, "jvm-threads", List.of(java, "-Xmx32m", "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1", source.toString(), Integer.toString(HTTP_PORT), "16"));
    String[] before = Awaitility.await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
        .until(() -> httpGet(bed.a, "/").strip().split(" "), answer -> Long.parseLong(answer[0]) > 0);
    assertThat(threads(workload.getLong("pid"))).as("JVM threads").isGreaterThan(20);

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"), mode);

    RealPrograms.assertMovedTo(bed, bed.b, status, workload);
    assertThat(status.getString("mode")).isEqualTo(mode.wireName());
    String[] after = httpGet(bed.b, "/").strip().split(" ");
    assertThat(Long.parseLong(after[0])).as("ticks go on").isGreaterThan(Long.parseLong(before[0]));
    // the server's pool starts its threads on demand, so there may be a few more now
    assertThat(Integer.parseInt(after[1])).as("live Java threads").isGreaterThanOrEqualTo(Integer.parseInt(before[1]));
  }

  /**
   * A server told to listen on the source node's own address cannot move: that address does not exist on
   * the destination. The destination refuses to restore it (CRIU would fail to bind, naming no address),
   * the source resumes and answers again, and the status names the address.
   */
  @Test
  void aServerBoundToTheSourceNodesAddressIsRolledBackWithTheReason() throws Exception {
    JsonObject workload = bed.launch(bed.a, "redis-bound", List.of(REDIS, "--port", Integer.toString(REDIS_PORT),
        "--bind", bed.a.node.address(), "--save", "", "--appendonly", "no", "--protected-mode", "no"));
    awaitRedis(bed.a);
    assertThat(redisCli(bed.a, "SET", "still", "here")).isEqualTo("OK");

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

    System.out.println("redis-bound: " + status.encode());
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    assertThat(status.getJsonObject("error").getString("code")).isEqualTo("RESTORE_FAILED");
    assertThat(status.getJsonObject("error").getString("message")).contains("listens on " + bed.a.node.address());
    Awaitility.await().atMost(Duration.ofSeconds(2)).ignoreExceptions()
        .until(() -> redisCli(bed.a, "GET", "still"), "here"::equals);
    assertThat(bed.workloads(bed.b)).isEmpty();
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  private record PythonAnswer(long ticks, int threads, long echoes, String echoErrors) {
    static PythonAnswer parse(String line) {
      String[] parts = line.strip().split(" ", 4);
      return new PythonAnswer(Long.parseLong(parts[0]), Integer.parseInt(parts[1]), Long.parseLong(parts[2]),
          parts[3]);
    }
  }

  private static long threads(long pid) throws IOException {
    try (var tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
      return tasks.count();
    }
  }

  private static void awaitRedis(AgentProcess agent) {
    Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
        .until(() -> redisCli(agent, "PING"), "PONG"::equals);
  }

  private static String redisCli(AgentProcess agent, String... command) {
    List<String> args = new ArrayList<>(List.of(REDIS_CLI, "-h", agent.node.address(), "-p",
        Integer.toString(REDIS_PORT)));
    args.addAll(List.of(command));
    HostCommand.Result result = HostCommand.run(args);
    assertThat(result.ok()).as(result.output()).isTrue();
    return result.output();
  }

  /** SETs {@code KEYS} keys through {@code redis-cli --pipe}. */
  private static void writeKeys(AgentProcess agent, String prefix) throws Exception {
    StringBuilder commands = new StringBuilder();
    for (int i = 0; i < KEYS; i++) {
      commands.append("SET ").append(prefix).append(':').append(i).append(" value-").append(i).append('\n');
    }
    Path input = AGENTS.dir().resolve(prefix + "-keys.txt");
    Files.writeString(input, commands);
    Process pipe = new ProcessBuilder(REDIS_CLI, "-h", agent.node.address(), "-p", Integer.toString(REDIS_PORT),
        "--pipe").redirectInput(input.toFile()).redirectErrorStream(true).start();
    String output = new String(pipe.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(pipe.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(output).contains("errors: 0, replies: " + KEYS);
    assertThat(redisCli(agent, "DBSIZE")).isEqualTo(Integer.toString(KEYS));
  }

  private static void assertKeys(AgentProcess agent, String prefix) {
    assertThat(redisCli(agent, "DBSIZE")).isEqualTo(Integer.toString(KEYS));
    for (int i : new int[] {0, 1, 4999, KEYS - 1}) {
      assertThat(redisCli(agent, "GET", prefix + ":" + i)).isEqualTo("value-" + i);
    }
  }

  private static long appendOnlyBytes(Path data) throws IOException {
    try (var files = Files.walk(data)) {
      return files.filter(path -> path.getFileName().toString().endsWith(".aof")).mapToLong(path -> {
        try {
          return Files.size(path);
        } catch (IOException e) {
          return 0;
        }
      }).sum();
    }
  }
  private static boolean answersOnOldConnection(Socket client) {
    try {
      return resp(client, "PING").equals("+PONG");
    } catch (IOException e) {
      System.out.println("old connection after the migration: " + e);
      return false;
    }
  }
}
