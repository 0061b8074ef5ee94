package io.ums.protocol.impl;

import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsEndpointOptions;
import io.ums.protocol.codec.Frame;
import io.vertx.core.Vertx;

/**
 * Liveness of one connection (PROTOCOL.md 2.1 and 2.3): bounds the handshake by {@code idleTimeout},
 * sends a PING every {@code pingInterval} once open, answers the peer's PINGs, and fails the connection
 * with IDLE_TIMEOUT when nothing arrived for {@code idleTimeout}. While the socket is full it neither
 * pings nor queues PONGs: only the latest PING is remembered and answered once the socket drains.
 */
final class KeepAlive {
  private final Vertx vertx;
  private final UmsEndpointOptions<?> options;
  private final FrameWriter writer;
  private final ConnectionFault fault;
  private long timerId = -1;
  private boolean handshaking = true;
  private long lastReceivedNanos = System.nanoTime();
  /** The last PING sent; while handshaking, when the handshake started. */
  private long lastPingNanos = System.nanoTime();
  /** The latest PING not yet answered because the socket was full; null when none waits. */
  private Long unansweredPing;

  KeepAlive(Vertx vertx, UmsEndpointOptions<?> options, FrameWriter writer, ConnectionFault fault) {
    this.vertx = vertx;
    this.options = options;
    this.writer = writer;
    this.fault = fault;
  }

  void start() {
    long idleMillis = options.getIdleTimeout().toMillis();
    long tick = Math.max(10, Math.min(options.getPingInterval().toMillis(), idleMillis) / 2);
    timerId = vertx.setPeriodic(tick, id -> onTimer());
  }

  void stop() {
    vertx.cancelTimer(timerId);
  }

  /** Bytes arrived: the peer is alive. */
  void received() {
    lastReceivedNanos = System.nanoTime();
  }

  /** The handshake completed: from now on this side pings. */
  void opened() {
    handshaking = false;
  }

  /**
   * A peer that keeps pinging but never reads would otherwise make us queue PONGs without limit:
   * while the socket is full only the latest PING is remembered, and answered once it drains.
   */
  void onPing(long opaque) {
    if (writer.writable()) {
      unansweredPing = null;
      writer.send(new Frame.Pong(opaque));
    } else {
      unansweredPing = opaque;
    }
  }

  private void onTimer() {
    long now = System.nanoTime();
    long idleNanos = options.getIdleTimeout().toNanos();
    if (now - lastReceivedNanos > idleNanos) {
      fault.fail(ProtocolError.IDLE_TIMEOUT, handshaking
          ? "handshake not completed within " + options.getIdleTimeout()
          : "nothing received for " + options.getIdleTimeout());
    } else if (handshaking && now - lastPingNanos > idleNanos) {
      // a peer trickling bytes cannot stall the handshake forever
      fault.fail(ProtocolError.IDLE_TIMEOUT, "handshake not completed within " + options.getIdleTimeout());
    } else if (!handshaking && now - lastPingNanos >= options.getPingInterval().toNanos()) {
      lastPingNanos = now;
      if (writer.writable()) { // a full socket means the peer has our last PING still to read
        writer.send(new Frame.Ping(now));
      }
    }
    if (unansweredPing != null && writer.writable()) {
      onPing(unansweredPing);
    }
  }
}
