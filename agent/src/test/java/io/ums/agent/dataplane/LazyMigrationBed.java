package io.ums.agent.dataplane;

import static org.awaitility.Awaitility.await;

import io.ums.agent.criu.CriuRunner;
import io.ums.agent.criu.ProcessTree;
import io.ums.host.HostCommand;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.UmsClient;
import io.ums.protocol.UmsClientOptions;
import io.ums.protocol.UmsConnection;
import io.ums.protocol.UmsServer;
import io.ums.protocol.UmsServerOptions;
import io.ums.testkit.MemService;
import io.ums.testkit.MemServiceClient;
import io.ums.testkit.NetworkTestbed;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Two network-namespace nodes (real CRIU runs in them), a memory service on node A, and one real UMS
 * connection between two endpoints in this JVM: the "source agent" is the client end, the "destination
 * agent" the server end. Every byte a migration moves between the nodes goes through that connection.
 * Channel handlers are routed by kind to whatever the running migration registered.
 */
final class LazyMigrationBed implements AutoCloseable {
  static final int PORT = 17001;
  static final Path CRIU = Path.of("/usr/local/sbin/criu");

  final NetworkTestbed testbed;
  final Vertx vertx;
  final Path tmp;
  final Path sessionRoot;
  final NetworkTestbed.Node a;
  final NetworkTestbed.Node b;
  private final UmsServer server;
  private final UmsClient client;
  final CuttableLink link;
  private volatile Runnable sourceClosed = () -> { };
  private volatile Runnable destinationClosed = () -> { };
  UmsConnection sourceEnd;
  UmsConnection destinationEnd;
  private final java.util.Map<String, Handler<IncomingChannel>> atSource = new java.util.concurrent.ConcurrentHashMap<>();
  private final java.util.Map<String, Handler<IncomingChannel>> atDestination =
      new java.util.concurrent.ConcurrentHashMap<>();
  private final List<Process> relays = new ArrayList<>();
  final List<Long> workloads = new ArrayList<>();

  /** @param throughCuttableLink join the endpoints through a {@link CuttableLink} (two more hops) */
  LazyMigrationBed(Path tmp, boolean throughCuttableLink) throws Exception {
    this.tmp = tmp;
    this.testbed = NetworkTestbed.create("ulz", 2);
    this.a = testbed.node(0);
    this.b = testbed.node(1);
    this.sessionRoot = Files.createDirectories(Path.of("/dev/shm", "ulz-" + testbed.id()));
    this.vertx = Vertx.vertx();
    Buffer token = Buffer.buffer(UUID.randomUUID().toString());
    String session = "lazy-" + testbed.id();
    server = UmsServer.create(vertx, new UmsServerOptions()
        .setIdleTimeout(Duration.ofSeconds(3)).setPingInterval(Duration.ofMillis(500)));
    Promise<UmsConnection> accepted = Promise.promise();
    server.authenticator(id -> id.equals(session) ? Optional.of(token) : Optional.empty())
        .connectHandler(accepted::tryComplete);
    int port = join(server.listen(0, testbed.hostAddress()));
    link = throughCuttableLink ? join(CuttableLink.start(vertx, testbed.hostAddress(), port)) : null;
    client = UmsClient.create(vertx, new UmsClientOptions()
        .setIdleTimeout(Duration.ofSeconds(3)).setPingInterval(Duration.ofMillis(500)));
    sourceEnd = join(client.connect(testbed.hostAddress(), link == null ? port : link.port(), session, token));
    destinationEnd = join(accepted.future());
    sourceEnd.channelHandler(channel -> route(atSource, channel));
    destinationEnd.channelHandler(channel -> route(atDestination, channel));
    sourceEnd.closeHandler(ignored -> sourceClosed.run());
    destinationEnd.closeHandler(ignored -> destinationClosed.run());
  }

  /** What the "source agent" does when its migration connection is gone. */
  void onSourceClosed(Runnable action) {
    sourceClosed = action;
  }

  /** What the "destination agent" does when its migration connection is gone. */
  void onDestinationClosed(Runnable action) {
    destinationClosed = action;
  }

  private static void route(java.util.Map<String, Handler<IncomingChannel>> handlers, IncomingChannel channel) {
    Handler<IncomingChannel> handler = handlers.get(channel.kind());
    if (handler == null) {
      channel.pause();
      throw new IllegalStateException("no handler for channel kind " + channel.kind());
    }
    handler.handle(channel);
  }

  void atSource(String kind, Handler<IncomingChannel> handler) {
    atSource.put(kind, handler);
  }

  void atDestination(String kind, Handler<IncomingChannel> handler) {
    atDestination.put(kind, handler);
  }

  CriuRunner criuIn(NetworkTestbed.Node node) {
    return CriuRunner.local(CRIU).inNetns(node.netnsPath());
  }

  /** Fresh image and work directories for one side of one migration, in tmpfs. */
  Path dir(String name) throws IOException {
    return Files.createDirectories(sessionRoot.resolve(name));
  }

  /** Starts the memory service as the init of its own PID namespace in {@code node}; returns its PID. */
  long launchMemService(NetworkTestbed.Node node, int mib) throws Exception {
    Path binary = MemService.build(tmp.resolve("bin"));
    Process output = startOutputRelay(tmp.resolve("source-" + mib + ".log"));
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
    Path log = tmp.resolve("source-" + mib + ".log");
    try {
      await().atMost(Duration.ofSeconds(120)).ignoreExceptions()
          .until(() -> !ProcessTree.alive(init) || MemServiceClient.query(node.address(), PORT, 1000) != null);
    } catch (org.awaitility.core.ConditionTimeoutException silent) {
      throw new AssertionError("the memory service (pid " + init + ") in " + node.name() + " does not answer on "
          + node.address() + ":" + PORT + " after 120 s; its output: " + readIfThere(log), silent);
    }
    if (!ProcessTree.alive(init)) {
      throw new AssertionError("the memory service (pid " + init + ") in " + node.name() + " exited before it "
          + "answered (unshare: " + (unshare.isAlive() ? "running" : "exit " + unshare.exitValue())
          + "); its output: " + readIfThere(log));
    }
    return init;
  }

  private static String readIfThere(Path file) throws IOException {
    return Files.exists(file) ? Files.readString(file) : "(no output file)";
  }

  /** A process whose stdin receives a restored tree's output (CRIU's --inherit-fd target). */
  Process startOutputRelay(Path log) throws IOException {
    Process relay = new ProcessBuilder("setsid", "sh", "-c", "exec cat >> \"$0\"", log.toString())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    relays.add(relay);
    return relay;
  }

  Path stdinOf(Process process) {
    return Path.of("/proc", Long.toString(process.pid()), "fd", "0");
  }

  /**
   * Sends every file of {@code from} over its own channel; the destination writes it into {@code to}.
   * Completes once the destination consumed them all (each channel's end is acknowledged).
   */
  Future<Integer> sendImages(Path from, Path to) {
    atDestination("criu-image", channel -> {
      Buffer file = Buffer.buffer();
      String name = channel.metadata().getString("name");
      channel.handler(file::appendBuffer);
      channel.endHandler(ignored -> {
        try {
          Files.write(to.resolve(name), file.getBytes());
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
    });
    List<Path> files;
    try (Stream<Path> list = Files.list(from)) {
      files = list.filter(Files::isRegularFile).toList();
    } catch (IOException e) {
      return Future.failedFuture(e);
    }
    List<Future<Void>> sent = new ArrayList<>();
    for (Path file : files) {
      Buffer bytes;
      try {
        bytes = Buffer.buffer(Files.readAllBytes(file));
      } catch (IOException e) {
        return Future.failedFuture(e);
      }
      sent.add(sourceEnd.openChannel("criu-image", new io.vertx.core.json.JsonObject()
          .put("name", file.getFileName().toString()))
          .compose(channel -> channel.write(bytes).compose(ignored -> channel.end())));
    }
    return Future.all(sent).map(ignored -> files.size());
  }

  /** CRIU (and lazy-pages guard) processes whose command line mentions this bed's session directory. */
  List<String> criuProcessesLeft() {
    List<String> left = new ArrayList<>();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path proc : procs.filter(path -> path.getFileName().toString().matches("\\d+")).toList()) {
        try {
          String cmdline = Files.readString(proc.resolve("cmdline")).replace('\0', ' ');
          if ((cmdline.contains("criu") || cmdline.contains("lazy-pages-guard"))
              && cmdline.contains(sessionRoot.toString())) {
            left.add(proc.getFileName() + ": " + cmdline);
          }
        } catch (IOException e) {
          // gone meanwhile
        }
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return left;
  }

  /** TCP listeners in {@code node}'s namespace (ss -ltn), to prove no page server is left listening. */
  String listenersIn(NetworkTestbed.Node node) {
    return HostCommand.run(node.inNode(List.of("ss", "-Hltn")).toArray(String[]::new)).output();
  }

  /** CRIU's logs of every run, kept under target/lazy-logs for whoever reads a failure. */
  void keepLogs() throws IOException {
    if (!Files.exists(sessionRoot)) {
      return;
    }
    Path keep = Files.createDirectories(Path.of("target", "lazy-logs", testbed.id()));
    try (Stream<Path> files = Files.walk(sessionRoot)) {
      for (Path log : files.filter(path -> path.toString().endsWith(".log") || path.toString().endsWith(".out")
          || path.toString().endsWith(".err")).toList()) {
        Files.copy(log, keep.resolve(sessionRoot.relativize(log).toString().replace('/', '_')),
            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    }
  }

  static <T> T join(Future<T> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(180, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws Exception {
    for (long pid : workloads) {
      ProcessTree.signalAll(pid, "KILL");
    }
    relays.forEach(Process::destroyForcibly);
    try {
      if (link != null) {
        link.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      }
      client.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } finally {
      keepLogs();
      deleteTree(sessionRoot);
      testbed.close();
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }
}
