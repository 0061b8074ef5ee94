package io.ums.agent.dataplane;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A page-server connection outlives garbage collections. Its NetClient, once unreachable, is closed by Vert.x's
 * cleaner, which shuts the connection down (and closes it 30 s later): that cut CRIU's lazy page server
 * mid-post-copy whenever a post-copy lasted more than ~30 s after a GC (the relay replaces the socket's close
 * handler, which was all that held the client).
 */
class PageServerConnectorTest {
  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void aConnectionWhoseCloseHandlerWasReplacedIsNotShutDownByAGarbageCollection() throws Exception {
    NetServer server = vertx.createNetServer().connectHandler(accepted -> { });
    server.listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
    NetSocket socket = PageServerConnector.connect(vertx, "127.0.0.1", server.actualPort(), 10_000)
        .await(10, TimeUnit.SECONDS);
    AtomicBoolean shutDown = new AtomicBoolean();
    AtomicBoolean closed = new AtomicBoolean();
    // as LazyPageServerRelay does
    socket.closeHandler(ignored -> closed.set(true));
    socket.shutdownHandler(ignored -> shutDown.set(true));

    // a lost client is shut down right after the collection that finds it (the cleaner's thread)
    Awaitility.await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(100)).until(() -> {
          System.gc();
          return !shutDown.get() && !closed.get();
        });
    assertThat(socket.write(io.vertx.core.buffer.Buffer.buffer("still open")).await(10, TimeUnit.SECONDS))
        .isNull();
  }
}
