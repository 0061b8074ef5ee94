package io.ums.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A local socket's stream carried over a real UMS connection into another local socket through
 * {@link SocketPipes} (as a dump's pages go from {@code criu dump} to the destination's page server), with
 * real sockets at both ends written and read by plain blocking threads, and Netty's leak detector watching
 * every buffer.
 */
@ExtendWith(VertxExtension.class)
class SocketPipesTest {
  private static final int BYTES = 24 * 1024 * 1024 + 4093;
  private static final byte[] CONTENT = new byte[BYTES];

  private ServerSocket sink;

  @BeforeAll
  static void content() {
    new Random(7).nextBytes(CONTENT);
    ByteBufLeaks.track();
  }

  @AfterEach
  void closeSink() throws IOException {
    if (sink != null) {
      sink.close();
    }
  }

  @Test
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void aSocketsBytesArriveUnchangedInTheOtherSocketAtTheSlowReadersPace(Vertx vertx, VertxTestContext test)
      throws Exception {
    assertCarried(vertx, test, false);
  }

  @Test
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void overTlsTooTheBytesArriveUnchanged(Vertx vertx, VertxTestContext test) throws Exception {
    assertCarried(vertx, test, true);
  }

  private void assertCarried(Vertx vertx, VertxTestContext test, boolean encrypt) throws Exception {
    // the reader starts late and reads in small pieces: both pipes must hold back, not buffer the stream
    CompletableFuture<String> received = readAll(300, 8192);
    Promise<Void> delivered = Promise.promise();
    Future<SocketReads> reads = listenForDump(vertx);
    CompletableFuture<Void> dumped = dump(reads, CONTENT, null);

    peersRelayingIntoTheSink(vertx, new UmsServerOptions().setTls(encrypt).setInitialWindow(512 * 1024), delivered)
        .compose(peers -> peers.client().connect("127.0.0.1", peers.port(), TestPeers.SESSION, TestPeers.TOKEN, encrypt))
        .compose(connection -> connection.openChannel("pages", new JsonObject()))
        .compose(channel -> reads.compose(dump -> dump.pipeTo(channel)))
        .compose(sent -> delivered.future())
        .onComplete(test.succeeding(done -> verifyOffTheEventLoop(vertx, test, () -> {
          assertThat(dumped).succeedsWithin(10, TimeUnit.SECONDS);
          assertThat(received).succeedsWithin(10, TimeUnit.SECONDS).isEqualTo(sha256(CONTENT));
          ByteBufLeaks.assertNone();
        })));
  }

  @Test
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void bytesTheSocketReadBeforeThePipeWasAttachedAreSentFirst(Vertx vertx, VertxTestContext test) throws Exception {
    byte[] small = java.util.Arrays.copyOf(CONTENT, 100_000);
    CompletableFuture<String> received = readAll(0, 65536);
    Promise<Void> delivered = Promise.promise();
    Future<SocketReads> reads = listenForDump(vertx);
    CountDownLatch written = new CountDownLatch(1);
    CompletableFuture<Void> dumped = dump(reads, small, written);

    peersRelayingIntoTheSink(vertx, new UmsServerOptions(), delivered)
        .compose(TestPeers::connect)
        .compose(connection -> connection.openChannel("pages", new JsonObject()))
        .compose(channel -> vertx.executeBlocking(() -> written.await(10, TimeUnit.SECONDS), false)
            .compose(ignored -> vertx.executeBlocking(() -> {
              Thread.sleep(200); // the socket has the whole stream and its end by now
              return null;
            }, false))
            .compose(ignored -> reads.compose(dump -> dump.pipeTo(channel))))
        .compose(sent -> delivered.future())
        .onComplete(test.succeeding(done -> verifyOffTheEventLoop(vertx, test, () -> {
          assertThat(dumped).succeedsWithin(10, TimeUnit.SECONDS);
          assertThat(received).succeedsWithin(10, TimeUnit.SECONDS).isEqualTo(sha256(small));
          ByteBufLeaks.assertNone();
        })));
  }

  @Test
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void aChannelResetMidStreamFailsThePipeClosesTheDumpsSocketAndLeaksNothing(Vertx vertx, VertxTestContext test)
      throws Exception {
    CompletableFuture<String> received = readAll(0, 65536);
    Future<SocketReads> reads = listenForDump(vertx);
    CompletableFuture<Void> dumped = dump(reads, CONTENT, null);

    TestPeers.start(vertx, new UmsServerOptions(), new UmsClientOptions(), connection -> connection.channelHandler(
            channel -> {
              long[] seen = new long[1];
              channel.handler(bytes -> {
                seen[0] += bytes.length();
                if (seen[0] > 4 * 1024 * 1024) {
                  channel.reset(ProtocolError.CANCELLED, "the test stops this stream");
                }
              });
            }))
        .compose(TestPeers::connect)
        .compose(connection -> connection.openChannel("pages", new JsonObject()))
        .compose(channel -> reads.compose(dump -> dump.pipeTo(channel)))
        .onComplete(test.failing(failure -> verifyOffTheEventLoop(vertx, test, () -> {
          assertThat(failure).isInstanceOf(UmsProtocolException.class)
              .hasMessageContaining("the test stops this stream");
          // the dump's socket was closed under it: its writes fail instead of hanging
          assertThat(dumped).failsWithin(10, TimeUnit.SECONDS).withThrowableThat()
              .isInstanceOf(java.util.concurrent.ExecutionException.class)
              .withRootCauseInstanceOf(java.net.SocketException.class);
          received.cancel(true);
          ByteBufLeaks.assertNone();
        })));
  }

  @Test
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void aReceivingSocketThatDiesFailsThePipeAndLeavesTheChannelToItsOwner(Vertx vertx, VertxTestContext test)
      throws Exception {
    sink = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    ServerSocket server = sink;
    // the "page server" takes 2 MiB and dies (as one that found its disk full)
    CompletableFuture.runAsync(() -> {
      try (Socket socket = server.accept(); InputStream in = socket.getInputStream()) {
        in.readNBytes(2 * 1024 * 1024);
        socket.setSoLinger(true, 0);
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    });
    Future<SocketReads> reads = listenForDump(vertx);
    CompletableFuture<Void> dumped = dump(reads, CONTENT, null);
    Promise<Void> delivered = Promise.promise();
    Promise<IncomingChannel> received = Promise.promise();
    Promise<Future<Void>> sent = Promise.promise();

    TestPeers.start(vertx, new UmsServerOptions(), new UmsClientOptions(), connection -> connection.channelHandler(
            channel -> {
              channel.pause();
              received.complete(channel);
              vertx.createNetClient().connect(sink.getLocalPort(), "127.0.0.1")
                  .compose(socket -> SocketPipes.toSocket(channel, socket))
                  .onComplete(delivered);
            }))
        .compose(TestPeers::connect)
        .compose(connection -> connection.openChannel("pages", new JsonObject()))
        .compose(channel -> {
          sent.complete(reads.compose(dump -> dump.pipeTo(channel)));
          return delivered.future().transform(outcome -> Future.succeededFuture(outcome));
        })
        // a reset would reach the sender well within this pause
        .compose(outcome -> vertx.timer(300).map(outcome))
        .onComplete(test.succeeding(outcome -> test.verify(() -> {
          assertThat(outcome.failed()).as("the pipe into the dead socket").isTrue();
          // the channel was not reset by the pipe (the sender's pipe would have failed): its owner resets it
          assertThat(sent.future().result().isComplete()).isFalse();
          received.future().result().reset(ProtocolError.CANCELLED, "the page server died");
          vertx.executeBlocking(() -> {
            assertThat(dumped).failsWithin(10, TimeUnit.SECONDS);
            ByteBufLeaks.assertNone();
            return null;
          }, false).onComplete(test.succeedingThenComplete());
        })));
  }

  @Test
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void aSocketsReadsPipedIntoAnotherSocketArriveUnchanged(Vertx vertx, VertxTestContext test) throws Exception {
    CompletableFuture<String> received = readAll(300, 8192);
    Future<SocketReads> reads = listenForDump(vertx);
    CompletableFuture<Void> dumped = dump(reads, CONTENT, null);

    vertx.createNetClient().connect(sink.getLocalPort(), "127.0.0.1")
        .compose(socket -> reads.compose(dump -> dump.pipeTo(socket)))
        .onComplete(test.succeeding(done -> verifyOffTheEventLoop(vertx, test, () -> {
          assertThat(dumped).succeedsWithin(10, TimeUnit.SECONDS);
          assertThat(received).succeedsWithin(10, TimeUnit.SECONDS).isEqualTo(sha256(CONTENT));
          ByteBufLeaks.assertNone();
        })));
  }

  /** UMS peers whose server side pipes every channel into a connection to the sink, as a destination agent does. */
  private Future<TestPeers> peersRelayingIntoTheSink(Vertx vertx, UmsServerOptions options, Promise<Void> delivered) {
    int sinkPort = sink.getLocalPort();
    return TestPeers.start(vertx, options, new UmsClientOptions(), connection -> connection.channelHandler(channel -> {
      channel.pause();
      vertx.createNetClient().connect(sinkPort, "127.0.0.1")
          .compose(socket -> SocketPipes.toSocket(channel, socket))
          .onComplete(delivered);
    }));
  }

  /** Assertions that wait (for the plain threads, for the garbage collector) run on a worker. */
  private static void verifyOffTheEventLoop(Vertx vertx, VertxTestContext test, VertxTestContext.ExecutionBlock checks) {
    vertx.executeBlocking(() -> {
      test.verify(checks);
      test.completeNow();
      return null;
    }, false);
  }

  /** A local port whose one connection's reads are taken at accept, as the agent's dump page socket does. */
  private static Future<SocketReads> listenForDump(Vertx vertx) {
    Promise<SocketReads> accepted = Promise.promise();
    NetServer server = vertx.createNetServer();
    server.connectHandler(socket -> accepted.tryComplete(SocketPipes.takeReads(socket)));
    dumpPort = server.listen(0, "127.0.0.1").map(NetServer::actualPort);
    return accepted.future();
  }

  private static Future<Integer> dumpPort;

  /** The "dump": a blocking client that writes the stream and closes its socket. */
  private static CompletableFuture<Void> dump(Future<SocketReads> reads, byte[] bytes, CountDownLatch written) {
    return dumpPort.toCompletionStage().toCompletableFuture().thenAcceptAsync(port -> {
      try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
        OutputStream out = socket.getOutputStream();
        for (int offset = 0; offset < bytes.length; offset += 1 << 20) {
          out.write(bytes, offset, Math.min(1 << 20, bytes.length - offset));
        }
        out.flush();
        if (written != null) {
          written.countDown();
        }
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    });
  }

  /** The "page server": a blocking reader that hashes everything until the end of the stream. */
  private CompletableFuture<String> readAll(long startAfterMillis, int piece) throws IOException {
    sink = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    ServerSocket server = sink;
    return CompletableFuture.supplyAsync(() -> {
      try (Socket socket = server.accept(); InputStream in = socket.getInputStream()) {
        Thread.sleep(startAfterMillis);
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        byte[] buffer = new byte[piece];
        int n;
        while ((n = in.read(buffer)) >= 0) {
          digest.update(buffer, 0, n);
        }
        return HexFormat.of().formatHex(digest.digest());
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }
}
