package io.ums.agent.migration;

import static io.ums.agent.migration.RealPrograms.HTTP_PORT;
import static io.ums.agent.migration.RealPrograms.PYTHON;
import static io.ums.agent.migration.RealPrograms.REDIS;
import static io.ums.agent.migration.RealPrograms.REDIS_CLI;
import static io.ums.agent.migration.RealPrograms.REDIS_PORT;
import static io.ums.agent.migration.RealPrograms.httpGet;
import static io.ums.agent.migration.RealPrograms.readLine;
import static io.ums.agent.migration.RealPrograms.resp;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ums.agent.criu.ProcessTree;
import io.ums.host.HostCommand;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Unmodified servers nobody here wrote, moved while clients keep writing to them: Debian's PostgreSQL 15
 * (a postmaster with its backends and background workers, System V and POSIX shared memory, a unix socket in
 * a directory, a TCP port, a data directory with its WAL) under pgbench. The contract checked: every
 * transaction a client saw committed is on the destination, and the destination keeps taking writes.
 *
 * <p>One pair of agents (two netns, real CRIU) serves the whole class; every test removes its workloads.
 */
@Tag("slow")
class RealServersUnderLoadMigrationTest {
  private static final Path PG_BIN = Path.of("/usr/lib/postgresql/15/bin");
  private static final int PG_PORT = 15432;
  private static final int CAP_SYS_RESOURCE = 24;
  private static final String NODE = "/usr/bin/node";

  private static MigrationTestBed bed;
  @RegisterExtension
  static final SharedAgentPair AGENTS = new SharedAgentPair("ulx", started -> bed = started);

  /**
   * PostgreSQL refuses to run as root, and workloads start as the agent's user (root), so the command drops
   * privileges the way an administrator would: {@code runuser -u postgres --}, which stays as the root parent
   * (the PID namespace's init, from which CRIU can mount its /proc) of a postmaster running as postgres.
   * pgbench, in the root namespace, inserts one row per transaction over TCP on node A's address until the
   * migration resets its connections; the rows it counted as committed must all be on B, which then takes
   * more. An agent without CAP_SYS_RESOURCE (this CI's container) cannot let CRIU read the limits of
   * postgres-owned processes: there the migration must be refused before the freeze, with pgbench never
   * interrupted.
   */
  @Test
  void postgresUnderPgbenchKeepsEveryCommittedRow() throws Exception {
    assumeTrue(Files.isExecutable(PG_BIN.resolve("postgres")), PG_BIN + "/postgres is absent (postgresql-15)");
    assumeTrue(Files.isExecutable(PG_BIN.resolve("pgbench")), PG_BIN + "/pgbench is absent (postgresql-15)");
    Path base = Files.createTempDirectory(Path.of("/tmp"), "ums-pg-");
    try {
      Path data = initdb(base);
      Path sockets = base.resolve("sockets");
      List<String> command = new ArrayList<>(List.of("/usr/sbin/runuser", "-u", "postgres", "--",
          PG_BIN.resolve("postgres").toString(), "-D", data.toString(), "-p",
          Integer.toString(PG_PORT), "-k", sockets.toString(), "-c", "listen_addresses=*"));
      JsonObject workload = bed.launch(bed.a, "postgres", command);
      awaitPostgres(bed.a);
      System.out.println("postgres processes before: " + ProcessTree.members(workload.getLong("pid")).size());

      Path script = base.resolve("insert.sql");
      Files.writeString(script, "INSERT INTO acked (client) VALUES (:client_id);\n");
      Path benchOut = base.resolve("pgbench-a.out");
      Process bench = pgbench(bed.a.node.address(), script, 4, List.of("-T", "600"), benchOut);
      try {
        Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
            .until(() -> rows(bed.a.node.address()) >= 300);

        JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

        System.out.println("postgres migrated: " + status.encode());
        if (!agentHasCapability(CAP_SYS_RESOURCE)) {
          assertRefusedKeepsServing(status, workload, bench, "runs without CAP_SYS_RESOURCE");
          return;
        }
        assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
        assertThat(bench.waitFor(60, TimeUnit.SECONDS)).as("pgbench ends once its connections are reset").isTrue();
      } finally {
        bench.destroyForcibly();
      }
      String benchReport = Files.readString(benchOut);
      long acknowledged = processed(benchReport);
      System.out.println("pgbench on A:\n" + benchReport);
      assertThat(ProcessTree.alive(workload.getLong("pid"))).as("source postmaster").isFalse();
      assertThat(bed.workloads(bed.a)).isEmpty();
      bed.assertNothingLeftBehind(bed.a, bed.b);

      long onB = rows(bed.b.node.address());
      System.out.println("postgres: pgbench saw " + acknowledged + " inserts committed on A; B holds " + onB);
      assertThat(acknowledged).as("inserts pgbench saw committed").isGreaterThanOrEqualTo(300);
      assertThat(onB).as("rows on B").isGreaterThanOrEqualTo(acknowledged);

      Path benchB = base.resolve("pgbench-b.out");
      Process after = pgbench(bed.b.node.address(), script, 4, List.of("-t", "100"), benchB);
      assertThat(after.waitFor(120, TimeUnit.SECONDS)).isTrue();
      assertThat(after.exitValue()).as(Files.readString(benchB)).isZero();
      assertThat(rows(bed.b.node.address())).as("rows after 400 more inserts on B").isEqualTo(onB + 400);
      // the unix socket in its directory answers too, for the restored server
      assertThat(sql(sockets.toString(), "SELECT count(*) FROM acked").strip()).isEqualTo(Long.toString(onB + 400));
    } finally {
      HostCommand.run("rm", "-rf", base.toString());
    }
  }

  /**
   * The same server launched with {@code "user": "postgres"}: the postmaster itself is the PID namespace's
   * init and runs as postgres (uid 101 on the host too), inside a user namespace the agent owns. It moves
   * whether or not the agent holds CAP_SYS_RESOURCE; pgbench's connections come back closed (no TCP repair
   * inside a user namespace), every insert it saw committed is on B, and B takes more, still as postgres.
   */
  @Test
  void postgresRunningAsItsUserMovesWithEveryCommittedRow() throws Exception {
    assumeTrue(Files.isExecutable(PG_BIN.resolve("postgres")), PG_BIN + "/postgres is absent (postgresql-15)");
    assumeTrue(Files.isExecutable(PG_BIN.resolve("pgbench")), PG_BIN + "/pgbench is absent (postgresql-15)");
    Path base = Files.createTempDirectory(Path.of("/tmp"), "ums-pg-");
    try {
      Path data = initdb(base);
      Path sockets = base.resolve("sockets");
      JsonObject workload = bed.launch(bed.a, "postgres-user", List.of(PG_BIN.resolve("postgres").toString(),
          "-D", data.toString(), "-p", Integer.toString(PG_PORT), "-k", sockets.toString(),
          "-c", "listen_addresses=*"), "postgres");
      awaitPostgres(bed.a);
      assertThat(Files.readString(Path.of("/proc", workload.getString("pid"), "status")))
          .as("the postmaster runs as postgres").containsPattern("Uid:\\s+" + postgresUid() + "\\s");

      Path script = base.resolve("insert.sql");
      Files.writeString(script, "INSERT INTO acked (client) VALUES (:client_id);\n");
      Path benchOut = base.resolve("pgbench-a.out");
      Process bench = pgbench(bed.a.node.address(), script, 4, List.of("-T", "600"), benchOut);
      try {
        Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
            .until(() -> rows(bed.a.node.address()) >= 300);

        JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

        System.out.println("postgres-user migrated: " + status.encode());
        assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
        assertThat(bench.waitFor(60, TimeUnit.SECONDS)).as("pgbench ends once its connections are reset").isTrue();
      } finally {
        bench.destroyForcibly();
      }
      String benchReport = Files.readString(benchOut);
      long acknowledged = processed(benchReport);
      assertThat(ProcessTree.alive(workload.getLong("pid"))).as("source postmaster").isFalse();
      assertThat(bed.workloads(bed.a)).isEmpty();
      bed.assertNothingLeftBehind(bed.a, bed.b);
      JsonObject onBWorkload = bed.workloads(bed.b).getJsonObject(0);
      assertThat(onBWorkload.getString("user")).isEqualTo("postgres");
      assertThat(Files.readString(Path.of("/proc", onBWorkload.getString("pid"), "status")))
          .as("the restored postmaster runs as postgres").containsPattern("Uid:\\s+" + postgresUid() + "\\s");

      long onB = rows(bed.b.node.address());
      System.out.println("postgres-user: pgbench saw " + acknowledged + " inserts committed on A; B holds " + onB);
      assertThat(acknowledged).as("inserts pgbench saw committed").isGreaterThanOrEqualTo(300);
      assertThat(onB).as("rows on B").isGreaterThanOrEqualTo(acknowledged);

      Path benchB = base.resolve("pgbench-b.out");
      Process after = pgbench(bed.b.node.address(), script, 4, List.of("-t", "100"), benchB);
      assertThat(after.waitFor(120, TimeUnit.SECONDS)).isTrue();
      assertThat(after.exitValue()).as(Files.readString(benchB)).isZero();
      assertThat(rows(bed.b.node.address())).as("rows after 400 more inserts on B").isEqualTo(onB + 400);
    } finally {
      HostCommand.run("rm", "-rf", base.toString());
    }
  }

  private static String postgresUid() throws IOException {
    return Files.readAllLines(Path.of("/etc/passwd")).stream().map(line -> line.split(":"))
        .filter(fields -> fields[0].equals("postgres")).map(fields -> fields[2]).findFirst().orElseThrow();
  }

  /**
   * A Python program counting an interval timer (setitimer, SIGALRM), a POSIX timer (timer_create, SIGUSR2)
   * and a timerfd, every 10 ms, and the SIGUSR1s it is sent. All three timers keep firing on B (at least half
   * a second's worth each), and a SIGUSR1 sent to the restored process is handled (the one sent before the
   * move is still counted). Without {@link io.ums.agent.criu.ExpiredTimerfds} the timerfd stopped on B,
   * after the one pending tick CRIU restored.
   */
  @Test
  void timersAndSignalsGoOnAfterTheMove() throws Exception {
    timersAndSignalsGoOnAfterTheMove(MigrationMode.STOP_AND_COPY);
  }

  /** As above, moved post-copy (the lazy restore re-arms the timerfd the same way). */
  @Test
  void timersAndSignalsGoOnAfterAPostCopyMove() throws Exception {
    timersAndSignalsGoOnAfterTheMove(MigrationMode.POST_COPY);
  }

  /**
   * As above, with the program running as {@code nobody} in a user namespace of its own (launched with a
   * {@code user}): it moves stop-and-copy, still nobody on B. Post-copy it is refused before the freeze
   * where the kernel keeps userfaultfd to privileged tasks (vm.unprivileged_userfaultfd 0, as here): CRIU's
   * lazy restore failed with "Unable to open an userfaultfd descriptor: Operation not permitted".
   */
  @Test
  void timersAndSignalsGoOnAfterTheMoveAsAnotherUser() throws Exception {
    JsonObject restored = timersAndSignalsGoOnAfterTheMove(MigrationMode.STOP_AND_COPY, "nobody");
    assertThat(Files.readString(Path.of("/proc", restored.getString("pid"), "status")))
        .containsPattern("Uid:\\s+65534\\s");
  }

  @Test
  void postCopyOfAnotherUsersProgramIsRefusedBeforeTheFreezeWithoutUnprivilegedUserfaultfd() throws Exception {
    assumeTrue(Files.readString(Path.of("/proc/sys/vm/unprivileged_userfaultfd")).trim().equals("0"),
        "vm.unprivileged_userfaultfd is 1: post-copy of such a workload is allowed");
    JsonObject workload = bed.launch(bed.a, "sleeper", List.of("/bin/sleep", "600"), "nobody");

    JsonObject status = bed.migratePostCopy(bed.a, bed.b, workload.getString("id"));

    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    assertThat(status.getJsonObject("error").getString("code")).isEqualTo("UNMOVABLE_RESOURCE");
    assertThat(status.getJsonObject("error").getString("message")).contains("vm.unprivileged_userfaultfd");
    assertThat(status.getJsonObject("timings").containsKey("freezeMs")).as("never frozen").isFalse();
    assertThat(bed.a.get("/v1/workloads/" + workload.getString("id")).getString("status")).isEqualTo("RUNNING");
    assertThat(bed.workloads(bed.b)).isEmpty();
  }

  private JsonObject timersAndSignalsGoOnAfterTheMove(MigrationMode mode) throws Exception {
    return timersAndSignalsGoOnAfterTheMove(mode, null);
  }

  private JsonObject timersAndSignalsGoOnAfterTheMove(MigrationMode mode, String user) throws Exception {
    Path script = copyResource("timers.py");
    List<String> command = List.of(PYTHON, script.toString(), Integer.toString(HTTP_PORT));
    if (user != null) {
      // readable by the user: the test's temporary directory is not
      Path shared = Files.createTempDirectory(Path.of("/tmp"), "ums-timers-");
      HostCommand.check("chmod", "755", shared.toString());
      shared.toFile().deleteOnExit();
      Path copy = Files.copy(script, shared.resolve("timers.py"));
      copy.toFile().deleteOnExit(); // before its directory: deleteOnExit runs last-registered first
      HostCommand.check("chmod", "644", copy.toString());
      command = List.of(PYTHON, copy.toString(), Integer.toString(HTTP_PORT));
    }
    JsonObject workload = user == null ? bed.launch(bed.a, "python-timers", command)
        : bed.launch(bed.a, "python-timers", command, user);
    long[] started = Awaitility.await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
        .until(() -> numbers(httpGet(bed.a, "/")), counts -> counts[0] > 10 && counts[1] > 10 && counts[2] > 10);
    HostCommand.check("kill", "-USR1", Long.toString(workload.getLong("pid")));
    long[] before = Awaitility.await().atMost(Duration.ofSeconds(5)).ignoreExceptions()
        .until(() -> numbers(httpGet(bed.a, "/")), counts -> counts[3] == 1 && counts[0] > started[0]);

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"), mode);

    JsonObject restored = RealPrograms.assertMovedTo(bed, bed.b, status, workload);
    long[] after = Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
        .until(() -> numbers(httpGet(bed.b, "/")), counts -> counts[0] > before[0] + 50 && counts[1] > before[1] + 50
            && counts[2] > before[2] + 50);
    assertThat(after[3]).as("SIGUSR1 received before the move").isEqualTo(1);
    HostCommand.check("kill", "-USR1", Long.toString(restored.getLong("pid")));
    long[] signalled = Awaitility.await().atMost(Duration.ofSeconds(5)).ignoreExceptions()
        .until(() -> numbers(httpGet(bed.b, "/")), counts -> counts[3] == 2);
    System.out.println("timers" + " (" + mode.wireName() + ")" + " (alarm posix timerfd usr1): before " + java.util.Arrays.toString(before) + ", on B "
        + java.util.Arrays.toString(after) + ", after a SIGUSR1 on B " + java.util.Arrays.toString(signalled));
    return restored;
  }

  /**
   * Node.js's HTTP server with setInterval ticking and three keep-alive clients from outside the node, each
   * with requests served on its connection. Those connections cannot follow (their local address is A's):
   * each client learns at once (reset or end of stream, not its read timeout), opens a keep-alive connection
   * to B and is served there on it, by the same server (its request count and ticks go on).
   */
  @Test
  void nodeHttpServerWithKeepAliveClients() throws Exception {
    assumeTrue(Files.isExecutable(Path.of(NODE)), NODE + " is absent (nodejs)");
    Path script = copyResource("keepalive.js");
    JsonObject workload = bed.launch(bed.a, "node-keepalive", List.of(NODE, script.toString(),
        Integer.toString(HTTP_PORT)));
    Awaitility.await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> httpGet(bed.a, "/") != null);
    List<Socket> clients = new ArrayList<>();
    try {
      long[] before = null;
      for (int i = 0; i < 3; i++) {
        Socket client = new Socket();
        clients.add(client);
        client.connect(new InetSocketAddress(bed.a.node.address(), HTTP_PORT), 2000);
        client.setSoTimeout(5000);
        for (int request = 1; request <= 3; request++) {
          before = numbers(keepAliveGet(client));
          assertThat(before[2]).as("requests on this kept-alive connection").isEqualTo(request);
        }
      }

      JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

      RealPrograms.assertMovedTo(bed, bed.b, status, workload);
      for (Socket client : clients) {
        long asked = System.nanoTime();
        try {
          String answer = keepAliveGet(client);
          throw new AssertionError("the old connection answered: " + answer);
        } catch (IOException expected) {
          System.out.println("node: old keep-alive connection after the move: " + expected);
        }
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked)).as("ms until the client knew")
            .isLessThan(3000);
      }
      try (Socket again = new Socket()) {
        again.connect(new InetSocketAddress(bed.b.node.address(), HTTP_PORT), 2000);
        again.setSoTimeout(5000);
        long[] after = null;
        for (int request = 1; request <= 3; request++) {
          after = numbers(keepAliveGet(again));
          assertThat(after[2]).as("requests on the new kept-alive connection").isEqualTo(request);
        }
        System.out.println("node (ticks requests): before " + java.util.Arrays.toString(before) + ", on B "
            + java.util.Arrays.toString(after));
        assertThat(after[0]).as("setInterval ticks").isGreaterThan(before[0]);
        assertThat(after[1]).as("requests served in all").isEqualTo(before[1] + 3);
      }
    } finally {
      for (Socket client : clients) {
        client.close();
      }
    }
  }

  /**
   * Debian's redis-server while a client (in the root namespace, over TCP on A's address) pushes numbered
   * entries onto a list as fast as redis acknowledges them, through the migration: its connection is reset
   * once B runs the workload, it reconnects to B and goes on. Every entry redis acknowledged, on A or on B,
   * is in B's list, in order, each once.
   */
  @Test
  void redisWithAClientWritingThroughTheMigration() throws Exception {
    redisWithAClientWriting(MigrationMode.STOP_AND_COPY);
  }

  /**
   * As above, moved post-copy: redis answers on B while its memory still arrives (the list the client keeps
   * growing among it), and no acknowledged entry is lost.
   */
  @Test
  void redisWithAClientWritingThroughAPostCopyMigration() throws Exception {
    redisWithAClientWriting(MigrationMode.POST_COPY);
  }

  private void redisWithAClientWriting(MigrationMode mode) throws Exception {
    assumeTrue(Files.isExecutable(Path.of(REDIS)), REDIS + " is absent (redis-server)");
    JsonObject workload = bed.launch(bed.a, "redis-writes", List.of(REDIS, "--port", Integer.toString(REDIS_PORT),
        "--save", "", "--appendonly", "no", "--protected-mode", "no"));
    List<Long> acknowledged = java.util.Collections.synchronizedList(new ArrayList<>());
    java.util.concurrent.atomic.AtomicReference<String> target = new java.util.concurrent.atomic.AtomicReference<>(
        bed.a.node.address());
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.atomic.AtomicLong resets = new java.util.concurrent.atomic.AtomicLong();
    Thread writer = new Thread(() -> {
      long next = 1;
      while (!stop.get()) {
        try (Socket socket = new Socket()) {
          socket.connect(new InetSocketAddress(target.get(), REDIS_PORT), 1000);
          socket.setSoTimeout(10_000);
          while (!stop.get()) {
            String reply = resp(socket, "RPUSH acked " + next);
            if (!reply.startsWith(":")) {
              throw new IllegalStateException("RPUSH answered " + reply);
            }
            acknowledged.add(next++);
          }
        } catch (IOException e) {
          if (!acknowledged.isEmpty()) {
            resets.incrementAndGet();
          }
          // not acknowledged: the same number goes again once connected (to B after the move)
          java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
      }
    }, "redis-writer");
    writer.start();
    try {
      Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> acknowledged.size() > 2000);

      JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"), mode);

      RealPrograms.assertMovedTo(bed, bed.b, status, workload);
      assertThat(status.getString("mode")).isEqualTo(mode.wireName());
      int atMove = acknowledged.size();
      target.set(bed.b.node.address());
      Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> acknowledged.size() > atMove + 2000);
    } finally {
      stop.set(true);
      writer.join(15_000);
    }
    HostCommand.Result list = HostCommand.run(REDIS_CLI, "-h", bed.b.node.address(), "-p",
        Integer.toString(REDIS_PORT), "LRANGE", "acked", "0", "-1");
    assertThat(list.ok()).as(list.output()).isTrue();
    List<Long> stored = list.output().lines().map(Long::parseLong).toList();
    System.out.println("redis" + " (" + mode.wireName() + ")" + ": " + acknowledged.size() + " pushes acknowledged (" + resets.get()
        + " failed connection(s) or attempts after the first push); B's list holds " + stored.size());
    assertThat(resets.get()).as("the client's connection to A was reset").isPositive();
    // an entry redis stored but whose answer the reset swallowed is pushed again: at most one extra per reset
    List<Long> distinct = stored.stream().distinct().toList();
    assertThat(distinct).as("every acknowledged entry, in order").startsWith(acknowledged.toArray(Long[]::new));
    assertThat(stored.size() - acknowledged.size()).as("entries stored without an acknowledgement")
        .isBetween(0, (int) resets.get());
  }

  /**
   * Python's sqlite3 in WAL mode, committing a row per transaction: an open WAL connection holds POSIX locks
   * on the database's -shm file as long as it lives, which cannot move (see the README's limits). The
   * migration is refused before anything is frozen, naming the lock; the writer never stops, and every commit
   * it saw acknowledged is in the database.
   */
  @Test
  void sqliteInWalModeIsRefusedBeforeTheFreezeAndLosesNoCommit() throws Exception {
    Path script = copyResource("sqlite_writer.py");
    Path state = Files.createDirectories(AGENTS.dir().resolve("sqlite-state"));
    Path database = state.resolve("writes.db");
    JsonObject workload = bed.launch(bed.a, "sqlite-writer", List.of(PYTHON, script.toString(),
        Integer.toString(HTTP_PORT), database.toString()));
    Awaitility.await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
        .until(() -> numbers(httpGet(bed.a, "/")), counts -> counts[1] > 50);

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

    System.out.println("sqlite-writer: " + status.encode());
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    JsonObject error = status.getJsonObject("error");
    assertThat(error.getString("code")).as(error.encode()).isEqualTo("UNMOVABLE_RESOURCE");
    assertThat(error.getString("message")).contains("holds a file lock (POSIX ").contains("on " + database);
    assertThat(status.getJsonObject("timings").containsKey("freezeMs")).as("never frozen").isFalse();
    long[] refused = numbers(httpGet(bed.a, "/"));
    long[] later = Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
        .until(() -> numbers(httpGet(bed.a, "/")), counts -> counts[1] > refused[1] + 50);
    bed.removeAllWorkloads();
    HostCommand.Result rows = HostCommand.run(PYTHON, "-c", "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]);"
        + " print(*db.execute('SELECT count(*), coalesce(min(n), 0), coalesce(max(n), 0) FROM acked').fetchone())",
        database.toString());
    assertThat(rows.ok()).as(rows.output()).isTrue();
    long[] stored = numbers(rows.output());
    System.out.println("sqlite: " + later[1] + " commits acknowledged; the database holds " + stored[0] + " rows, "
        + stored[1] + ".." + stored[2]);
    assertThat(stored[0]).as("rows, one per acknowledged commit at least").isGreaterThanOrEqualTo(later[1]);
    assertThat(stored[2]).as("no gap").isEqualTo(stored[0]);
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  private Path copyResource(String name) throws IOException {
    Path copy = AGENTS.dir().resolve(name);
    try (InputStream in = Objects.requireNonNull(getClass().getResourceAsStream("/workloads/" + name))) {
      Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
    }
    return copy;
  }

  private static long[] numbers(String line) {
    return java.util.Arrays.stream(line.strip().split(" ")).mapToLong(Long::parseLong).toArray();
  }

  /** One HTTP/1.1 GET on a connection kept alive; the body (the answer's Content-Length bytes). */
  private static String keepAliveGet(Socket socket) throws IOException {
    OutputStream out = socket.getOutputStream();
    out.write("GET / HTTP/1.1\r\nHost: ums\r\nConnection: keep-alive\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    out.flush();
    InputStream in = socket.getInputStream();
    int length = -1;
    for (String line = readLine(in); !line.isEmpty(); line = readLine(in)) {
      if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring("content-length:".length()).trim());
      }
    }
    assertThat(length).as("Content-Length").isPositive();
    return new String(in.readNBytes(length), StandardCharsets.US_ASCII);
  }
  /**
   * Dropping privileges in the first process ({@code setpriv} execs postgres as the namespace's init) is
   * refused before the freeze: CRIU could not mount the /proc it needs from inside that process. The server
   * never stops taking pgbench's inserts.
   */
  @Test
  void postgresStartedThroughSetprivIsRefusedBeforeTheFreeze() throws Exception {
    assumeTrue(Files.isExecutable(PG_BIN.resolve("postgres")), PG_BIN + "/postgres is absent (postgresql-15)");
    Path base = Files.createTempDirectory(Path.of("/tmp"), "ums-pg-");
    try {
      Path data = initdb(base);
      JsonObject workload = bed.launch(bed.a, "postgres-setpriv", List.of("/usr/bin/setpriv", "--reuid=postgres",
          "--regid=postgres", "--init-groups", "--", PG_BIN.resolve("postgres").toString(), "-D", data.toString(),
          "-p", Integer.toString(PG_PORT), "-k", base.resolve("sockets").toString(), "-c", "listen_addresses=*"));
      awaitPostgres(bed.a);
      Path script = base.resolve("insert.sql");
      Files.writeString(script, "INSERT INTO acked (client) VALUES (:client_id);\n");
      Process bench = pgbench(bed.a.node.address(), script, 2, List.of("-T", "600"), base.resolve("pgbench.out"));
      try {
        Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
            .until(() -> rows(bed.a.node.address()) >= 100);

        JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

        System.out.println("postgres-setpriv: " + status.encode());
        assertRefusedKeepsServing(status, workload, bench, "runs without CAP_SYS_ADMIN");
      } finally {
        bench.destroyForcibly();
      }
    } finally {
      HostCommand.run("rm", "-rf", base.toString());
    }
  }

  private static void assertRefusedKeepsServing(JsonObject status, JsonObject workload, Process bench, String why)
      throws Exception {
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    JsonObject error = status.getJsonObject("error");
    assertThat(error.getString("code")).as(error.encode()).isEqualTo("UNMOVABLE_RESOURCE");
    assertThat(error.getString("message")).contains(why);
    assertThat(status.getJsonObject("timings").containsKey("freezeMs")).as("never frozen").isFalse();
    long rows = rows(bed.a.node.address());
    Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> rows(bed.a.node.address()) > rows + 100);
    assertThat(bench.isAlive()).as("pgbench, connected all along").isTrue();
    assertThat(bed.a.get("/v1/workloads/" + workload.getString("id")).getString("status")).isEqualTo("RUNNING");
    assertThat(bed.workloads(bed.b)).isEmpty();
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  /** Whether this JVM (and so an agent started like it, and its CRIU) holds the capability. */
  private static boolean agentHasCapability(int capability) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("CapEff:")) {
        return new java.math.BigInteger(line.substring(7).trim(), 16).testBit(capability);
      }
    }
    return true;
  }

  /** A fresh cluster in {@code base}/data (trusting every client), its socket directory beside it. */
  private static Path initdb(Path base) throws IOException {
    HostCommand.check("chown", "postgres:postgres", base.toString());
    HostCommand.check("chmod", "755", base.toString());
    Path data = base.resolve("data");
    asPostgres(PG_BIN.resolve("initdb").toString(), "-D", data.toString(), "-U", "postgres", "--auth=trust",
        "-E", "UTF8", "--no-sync");
    asPostgres("mkdir", base.resolve("sockets").toString());
    // the clients come from the testbed's host side of the bridge
    Files.writeString(data.resolve("pg_hba.conf"), "host all all 0.0.0.0/0 trust\n",
        java.nio.file.StandardOpenOption.APPEND);
    return data;
  }

  /** Waits until the server takes connections, then creates the table the inserts go to. */
  private static void awaitPostgres(AgentProcess agent) {
    Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
        .until(() -> HostCommand.run(PG_BIN.resolve("pg_isready").toString(), "-h", agent.node.address(), "-p",
            Integer.toString(PG_PORT)).ok());
    assertThat(sql(agent.node.address(), "CREATE TABLE acked (id bigserial PRIMARY KEY, client int NOT NULL)"))
        .contains("CREATE TABLE");
  }

  private static void asPostgres(String... command) {
    List<String> args = new ArrayList<>(List.of("/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres",
        "--init-groups", "--"));
    args.addAll(List.of(command));
    HostCommand.Result result = HostCommand.run(args);
    assertThat(result.ok()).as(String.join(" ", args) + ": " + result.output()).isTrue();
  }

  private static String sql(String host, String statement) {
    HostCommand.Result result = HostCommand.run(PG_BIN.resolve("psql").toString(), "-X", "-A", "-t", "-h", host,
        "-p", Integer.toString(PG_PORT), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c",
        statement);
    assertThat(result.ok()).as(statement + ": " + result.output()).isTrue();
    return result.output();
  }

  private static long rows(String host) {
    return Long.parseLong(sql(host, "SELECT count(*) FROM acked").strip());
  }

  private static Process pgbench(String host, Path script, int clients, List<String> duration, Path output)
      throws IOException {
    List<String> command = new ArrayList<>(List.of(PG_BIN.resolve("pgbench").toString(), "-n", "-h", host, "-p",
        Integer.toString(PG_PORT), "-U", "postgres", "-c", Integer.toString(clients), "-f", script.toString()));
    command.addAll(duration);
    command.add("postgres");
    return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
  }

  /** pgbench's own count of transactions it saw complete ("number of transactions actually processed"). */
  private static long processed(String report) {
    Matcher matcher = Pattern.compile("number of transactions actually processed: (\\d+)").matcher(report);
    assertThat(matcher.find()).as(report).isTrue();
    return Long.parseLong(matcher.group(1));
  }

}
