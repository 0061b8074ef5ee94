package io.ums.agent;

import io.ums.agent.dataplane.DataPlane;
import io.ums.agent.dataplane.DumpPageSocket;
import io.ums.agent.dataplane.PageServerConnector;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.SocketPipes;
import io.ums.protocol.UmsClient;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a migration's data path once, in-process over loopback, before the agent reports ready: a fresh JVM
 * spends its first migration loading classes, linking lambdas and interpreting the relay until C1 compiles
 * it (README, Performance). A stand-in for {@code criu dump} writes {@link #MIB_PROPERTY} MiB into a
 * {@link DumpPageSocket}; as in a migration, that socket is piped into a channel of a real UMS connection
 * (handshake, frames, credit, CRC-32C) whose receiving end is piped into a {@link PageServerConnector}
 * socket, where a stand-in for {@code criu page-server} reads it and answers on a reply channel; two dozen
 * small image files cross on channels of their own, from and to files. Bounded: the bytes are generated and
 * dropped (credit caps what is buffered), the files are small and deleted, and after {@link #TIME_LIMIT} the
 * agent starts anyway. A failure is logged, never fatal.
 */
public final class DataPathWarmup {
  /** System property: MiB pushed through the page path (0 turns the warm-up off). */
  public static final String MIB_PROPERTY = "ums.warmup.mib";
  static final int DEFAULT_MIB = 64;
  static final Duration TIME_LIMIT = Duration.ofSeconds(15);
  private static final String HOST = "127.0.0.1";
  /**
   * A dump's image files besides the pages: a couple of dozen, mostly a few KiB. Each crosses on its own
   * channel, so the per-file path (open, channel with metadata, CLOSE and its ack) runs as often as in a
   * migration; one file warmed too little of it (the first migration still spent ~0.2 s more sending them).
   */
  private static final int IMAGE_FILES = 24;
  private static final int IMAGE_FILE_BYTES = 4 * 1024;
  /** As the destination's page-server socket: roomier than the socket default, still bounded. */
  private static final int PAGE_SERVER_WRITE_QUEUE = 1024 * 1024;
  private static final String PAGES = "pages";
  private static final String PAGES_REPLY = "pages-reply";
  private static final String IMAGE = "image";

  private final Vertx vertx;
  private final long bytes;
  private final Path scratch;
  private final Promise<NetSocket> dumpSocket = Promise.promise();
  // what release() closes; set on the event loops as the pass opens them
  private volatile UmsClient client;
  private volatile DataPlane plane;
  private volatile UmsConnection connection;
  private volatile DumpPageSocket pageSocket;
  private volatile ServerSocket pageServer;

  private DataPathWarmup(Vertx vertx, long bytes, Path scratch) {
    this.vertx = vertx;
    this.bytes = bytes;
    this.scratch = scratch;
  }

  /** {@code engine}, then a warm-up of the data path before the agent's control API starts listening. */
  public static MigrationsFactory after(MigrationsFactory engine) {
    return (vertx, config, workloads, criu) -> engine.start(vertx, config, workloads, criu)
        .compose(migrations -> run(vertx, config.workDir(), configuredMib()).map(migrations));
  }

  /** Warms the data path with {@code mib} MiB; always succeeds, after at most {@link #TIME_LIMIT}. */
  public static Future<Void> run(Vertx vertx, Path workDir, long mib) {
    if (mib <= 0) {
      log().info("data path warm-up off ({}={})", MIB_PROPERTY, mib);
      return Future.succeededFuture();
    }
    long started = System.nanoTime();
    return attempt(vertx, workDir, mib << 20)
        .onSuccess(ignored -> log().info("data path warm-up done: {} MiB through a loopback UMS connection in {} ms",
            mib, (System.nanoTime() - started) / 1_000_000))
        .recover(failure -> {
          log().warn("data path warm-up incomplete, the first migration may be slower: {}", failure.toString());
          return Future.succeededFuture();
        });
  }

  /**
   * One pass with {@code bytes} page bytes, in the clear; fails unless the page server stand-in read exactly
   * them and the dump had its answer within {@link #TIME_LIMIT}. Everything it opened is closed and deleted
   * either way. (A second pass under TLS, for cross-cluster migrations and --encrypt-data-plane, was measured
   * and left out: loading the TLS stack raised every agent's idle RSS from 96 to 115 MiB.)
   */
  static Future<Void> attempt(Vertx vertx, Path workDir, long bytes) {
    DataPathWarmup warmup = new DataPathWarmup(vertx, bytes, workDir.resolve("warmup-" + UUID.randomUUID()));
    return warmup.pushOnce()
        .timeout(TIME_LIMIT.toMillis(), TimeUnit.MILLISECONDS)
        .eventually(warmup::release);
  }

  // Not a static field: AgentMain names this class in a static initializer, before main() configures logging.
  private static Logger log() {
    return LoggerFactory.getLogger(DataPathWarmup.class);
  }

  private static long configuredMib() {
    String value = System.getProperty(MIB_PROPERTY, String.valueOf(DEFAULT_MIB));
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      log().warn("{}={} is not a number of MiB; warming up with {}", MIB_PROPERTY, value, DEFAULT_MIB);
      return DEFAULT_MIB;
    }
  }

  /** One pass: a connection, an image channel and the page channels, as a source and a destination see them. */
  private Future<Void> pushOnce() {
    String session = UUID.randomUUID().toString();
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    Buffer token = Buffer.buffer(secret);
    DataPlane.Limits limits = new DataPlane.Limits(TIME_LIMIT, Duration.ofSeconds(5));
    Promise<Void> received = Promise.promise();
    client = DataPlane.client(vertx, limits);
    return DataPlane.start(vertx, HOST, 0, limits, id -> id.equals(session) ? Optional.of(token) : Optional.empty(),
            opened -> receive(opened, received))
        .compose(started -> {
          plane = started;
          return client.connect(HOST, started.port(), session, token);
        })
        .compose(opened -> {
          connection = opened;
          return Future.all(send(opened), received.future()).mapEmpty();
        });
  }

  /** The destination's side: the image into a file, the pages into a page-server socket and its replies back. */
  private void receive(UmsConnection destination, Promise<Void> received) {
    destination.channelHandler(channel -> {
      channel.pause();
      if (channel.kind().equals(PAGES)) {
        toPageServer(destination, channel).onComplete(received);
      } else {
        toFile(channel).onFailure(received::tryFail);
      }
    });
  }

  private Future<Void> toPageServer(UmsConnection destination, IncomingChannel pages) {
    return vertx.executeBlocking(() -> pageServer = CriuStandIns.listen(HOST, TIME_LIMIT), false)
        .compose(server -> {
          Future<Void> served = vertx.executeBlocking(() -> CriuStandIns.pageServer(server, bytes), false);
          return PageServerConnector.connect(vertx, HOST, server.getLocalPort(), TIME_LIMIT.toMillis())
              .compose(socket -> {
                socket.setWriteQueueMaxSize(PAGE_SERVER_WRITE_QUEUE);
                Future<Void> relayed = SocketPipes.toSocket(pages, socket);
                Future<Void> replied = destination.openChannel(PAGES_REPLY, new JsonObject())
                    .compose(socket::pipeTo);
                return Future.all(relayed, replied, served).mapEmpty();
              });
        });
  }

  private Future<Void> toFile(IncomingChannel image) {
    String name = image.metadata().getString("name", "");
    return vertx.fileSystem().open(scratch.resolve("in-" + name).toString(),
            new OpenOptions().setWrite(true).setCreate(true).setTruncateExisting(true))
        .compose(image::pipeTo);
  }

  /** The source's side: the image files one channel each, then the dump's page stream, its replies back. */
  private Future<Void> send(UmsConnection source) {
    source.channelHandler(reply -> {
      reply.pause();
      dumpSocket.future().onSuccess(reply::pipeTo);
    });
    Future<Void> images = vertx.executeBlocking(() -> {
      Files.createDirectories(scratch);
      byte[] image = new byte[IMAGE_FILE_BYTES];
      new SecureRandom().nextBytes(image);
      for (int i = 0; i < IMAGE_FILES; i++) {
        // sizes from a few hundred bytes to the full buffer, as CRIU's images vary
        Files.write(scratch.resolve(imageName(i)), java.util.Arrays.copyOf(image, IMAGE_FILE_BYTES >> (i % 5)));
      }
      return null;
    }, false);
    for (int i = 0; i < IMAGE_FILES; i++) {
      String name = imageName(i);
      images = images.compose(ignored -> sendImage(source, name));
    }
    return images
        .compose(ignored -> DumpPageSocket.listen(vertx, HOST))
        .compose(listening -> {
          pageSocket = listening;
          Future<Void> dumped = vertx.executeBlocking(() -> CriuStandIns.dump(HOST, listening.port(), bytes,
              TIME_LIMIT), false);
          Future<Void> relayed = listening.accepted()
              .compose(dump -> {
                dumpSocket.complete(dump.socket());
                return source.openChannel(PAGES, new JsonObject()).compose(dump::pipeTo);
              });
          return Future.all(dumped, relayed).mapEmpty();
        });
  }

  private Future<Void> sendImage(UmsConnection source, String name) {
    return vertx.fileSystem().open(scratch.resolve(name).toString(), new OpenOptions().setRead(true).setWrite(false))
        .compose(in -> source.openChannel(IMAGE, new JsonObject().put("name", name))
            .compose(in::pipeTo)
            .eventually(in::close));
  }

  private static String imageName(int index) {
    return "image-" + index + ".img";
  }

  /**
   * Closes whatever is still open (after a timeout, a stand-in blocked on its socket gets an error and its
   * worker thread returns) and deletes the scratch files.
   */
  private Future<Void> release() {
    Future<Void> closed = Future.all(
        connection == null ? Future.succeededFuture() : connection.close(),
        pageSocket == null ? Future.succeededFuture() : pageSocket.close(),
        plane == null ? Future.succeededFuture() : plane.close(),
        client.close()).mapEmpty();
    return closed.eventually(() -> vertx.executeBlocking(() -> {
      if (pageServer != null) {
        pageServer.close();
      }
      deleteTree(scratch);
      return null;
    }, false));
  }

  private static void deleteTree(Path dir) throws IOException {
    if (Files.isDirectory(dir)) {
      try (var files = Files.list(dir)) {
        for (Path file : files.toList()) {
          Files.deleteIfExists(file);
        }
      }
      Files.deleteIfExists(dir);
    }
  }
}
