package io.ums.protocol.impl;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.protocol.TestPeers;
import io.ums.protocol.UmsClientOptions;
import io.ums.protocol.UmsConnection;
import io.ums.protocol.UmsServerOptions;
import io.ums.protocol.codec.Frame;
import io.ums.protocol.codec.FrameEncoder;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClientOptions;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A peer that pings without end and never reads must not make the server queue answers without limit. Two
 * million frames take the server seconds of CPU: on a loaded CI machine (load 16 on 2 cores) the run took 27 s,
 * so the time limit is the harness's guard against a hang, not a speed bound. What the server may hand its
 * socket is bounded by the kernel, not by timing: the peer stops reading at once (auto-read off) with a fixed
 * 64 KiB receive buffer (no autotuning: under a CPU hog the buffer had grown and the server had sent 10.05 MB),
 * so the server's socket send buffer (at most net.ipv4.tcp_wmem's maximum, 4 MiB here) and one write queue's
 * worth are what it can take (4.48 MB measured); a server that queued every PONG would hand over all 40 MB.
 */
@ExtendWith(VertxExtension.class)
class PingFloodTest {
  private static final int PINGS = 2_000_000;
  private static final int PINGS_PER_WRITE = 50_000;
  private static final long LAST_OPAQUE = PINGS;
  private static final int PEER_RECEIVE_BUFFER = 64 * 1024;

  @Test
  @Timeout(value = 3, timeUnit = TimeUnit.MINUTES)
  void pongsToAPeerThatDoesNotReadStayBoundedAndTheLatestIsAnsweredOnceItReads(Vertx vertx, VertxTestContext test) {
    Promise<UmsConnection> serverConnection = Promise.promise();
    Promise<Void> markerChannelOpened = Promise.promise();
    TestPeers.start(vertx, new UmsServerOptions(), new UmsClientOptions(), connection -> {
      serverConnection.tryComplete(connection);
      connection.channelHandler(channel -> markerChannelOpened.tryComplete());
    }).compose(peers -> RawPeer.connect(vertx, peers.port(),
        new NetClientOptions().setReceiveBufferSize(PEER_RECEIVE_BUFFER))).compose(peer ->
        peer.handshake(TestPeers.SESSION, TestPeers.TOKEN, List.of()).compose(ready -> {
          peer.pauseReading();
          // the same batch over and over (opaques 1..PINGS_PER_WRITE), then the one ping whose answer counts
          Buffer batch = Buffer.buffer();
          for (int i = 1; i <= PINGS_PER_WRITE; i++) {
            batch.appendBuffer(FrameEncoder.encode(new Frame.Ping(i)));
          }
          for (int sent = 0; sent < PINGS - 1; sent += PINGS_PER_WRITE) {
            peer.sendRaw(batch.copy());
          }
          peer.send(new Frame.Ping(LAST_OPAQUE));
          // frames are handled in order: once this channel opens, every PING before it was handled
          peer.send(new Frame.Open(1, false, "marker", Buffer.buffer("{}")));
          return markerChannelOpened.future().compose(opened -> serverConnection.future()).compose(server -> {
            long pongBytes = (long) PINGS * FrameEncoder.encode(new Frame.Pong(0)).length();
            long queued = server.stats().wireBytesSent();
            test.verify(() -> assertThat(queued)
                .as("bytes the server handed to its socket for a peer that reads nothing")
                .isLessThan(pongBytes / 4));
            peer.resumeReading();
            return peer.nextMatching(f -> f instanceof Frame.Pong pong && pong.opaque() == LAST_OPAQUE);
          });
        }))
        .onComplete(test.succeedingThenComplete());
  }
}
