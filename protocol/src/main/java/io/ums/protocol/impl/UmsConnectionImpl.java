package io.ums.protocol.impl;

import io.netty.util.collection.IntObjectHashMap;
import io.ums.protocol.ConnectionStats;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsConnection;
import io.ums.protocol.UmsEndpointOptions;
import io.ums.protocol.UmsProtocolException;
import io.ums.protocol.codec.Frame;
import io.ums.protocol.codec.FrameDecoder;
import io.ums.protocol.codec.FrameEncoder;
import io.ums.protocol.codec.FrameHandler;
import io.ums.protocol.codec.FrameType;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import java.util.ArrayList;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One UMS connection: drives the handshake, then dispatches frames to its channels, answers pings,
 * watches idleness and turns protocol violations into ERROR/RESET frames (PROTOCOL.md 2 and 4).
 * Everything runs on the socket's event loop.
 */
public final class UmsConnectionImpl implements UmsConnection, FrameHandler, Handshake.HandshakeSink {
  private static final Logger LOG = LoggerFactory.getLogger(UmsConnectionImpl.class);

  private static final int MAX_DATA_CHUNK = 64 * 1024;

  private enum Phase { HANDSHAKING, OPEN, CLOSED }

  private final ContextInternal context;
  private final NetSocket socket;
  private final UmsEndpointOptions<?> options;
  private final boolean client;
  private final FrameDecoder decoder;
  private final FrameWriter writer;
  private final Handshake handshake;
  private final Promise<UmsConnection> handshakeResult;
  private final Promise<Void> closed;
  private final IntObjectHashMap<OutgoingChannelImpl> outgoing = new IntObjectHashMap<>();
  private final IntObjectHashMap<IncomingChannelImpl> incoming = new IntObjectHashMap<>();
  private Phase phase = Phase.HANDSHAKING;
  private Negotiated negotiated;
  private int nextLocalId;
  private int highestPeerId;
  private boolean localGoAway;
  private boolean peerGoAway;
  private UmsProtocolException closeCause;
  private long timerId = -1;
  private long lastReceivedNanos = System.nanoTime();
  private long lastPingNanos = System.nanoTime();
  /** The latest PING not yet answered because the socket was full; null when none waits. */
  private Long unansweredPing;
  private long payloadSent;
  private long payloadReceived;
  private long wireReceived;
  private Handler<IncomingChannel> channelHandler;
  private Handler<Void> closeHandler;
  private Handler<Throwable> exceptionHandler;

  private UmsConnectionImpl(ContextInternal context, NetSocket socket, UmsEndpointOptions<?> options, boolean client,
      Function<Handshake.HandshakeSink, Handshake> handshakeFactory) {
    this.context = context;
    this.socket = socket;
    this.options = options;
    this.client = client;
    this.nextLocalId = client ? 1 : 2;
    this.decoder = new FrameDecoder(options.getMaxFrameSize(), true, this);
    this.writer = new FrameWriter(socket, options.getSocketWriteQueueSize());
    this.handshake = handshakeFactory.apply(this);
    this.handshakeResult = context.promise();
    this.closed = context.promise();
  }

  /** Starts the client side on a freshly connected socket; completes after the handshake. */
  public static Future<UmsConnection> connectClient(ContextInternal context, NetSocket socket,
      UmsEndpointOptions<?> options, String sessionId, Buffer token) {
    UmsConnectionImpl connection = new UmsConnectionImpl(context, socket, options, true,
        sink -> new ClientHandshake(options, sessionId, token, sink));
    connection.start();
    return connection.handshakeResult.future();
  }

  /** Starts the server side on an accepted socket; completes after the handshake. */
  public static Future<UmsConnection> acceptServer(ContextInternal context, NetSocket socket,
      UmsEndpointOptions<?> options, io.ums.protocol.SessionAuthenticator authenticator) {
    UmsConnectionImpl connection = new UmsConnectionImpl(context, socket, options, false,
        sink -> new ServerHandshake(options, authenticator, sink));
    connection.start();
    return connection.handshakeResult.future();
  }

  private void start() {
    socket.handler(bytes -> {
      wireReceived += bytes.length();
      lastReceivedNanos = System.nanoTime();
      writer.batch(() -> decoder.handle(bytes));
    });
    socket.closeHandler(v -> onSocketClosed());
    socket.exceptionHandler(e -> LOG.debug("UMS socket error on {}: {}", socket.remoteAddress(), e.toString()));
    writer.write(FrameEncoder.magic());
    long idleMillis = options.getIdleTimeout().toMillis();
    long tick = Math.max(10, Math.min(options.getPingInterval().toMillis(), idleMillis) / 2);
    timerId = context.owner().setPeriodic(tick, id -> onTimer());
    handshake.start();
  }

  ContextInternal context() {
    return context;
  }

  FrameWriter writer() {
    return writer;
  }

  // ---- handshake sink ----

  @Override
  public void send(Frame frame) {
    writer.send(frame);
  }

  @Override
  public void handshakeDone(Negotiated negotiated) {
    this.negotiated = negotiated;
    phase = Phase.OPEN;
    LOG.debug("UMS session {} connected ({}), lz4={}", negotiated.sessionId(), client ? "client" : "server",
        negotiated.lz4());
    handshakeResult.tryComplete(this);
  }

  @Override
  public void handshakeFailed(ProtocolError error, String message) {
    fail(error, message);
  }

  // ---- inbound frames ----

  @Override
  public void onFrame(Frame frame) {
    if (phase == Phase.CLOSED) {
      return;
    }
    if (frame instanceof Frame.Error error) {
      onPeerError(error);
    } else if (phase == Phase.HANDSHAKING) {
      if (frame instanceof Frame.HandshakeFrame handshakeFrame) {
        handshake.onFrame(handshakeFrame);
      } else {
        fail(ProtocolError.NOT_AUTHENTICATED, frame.getClass().getSimpleName() + " before the handshake completed");
      }
    } else if (frame instanceof Frame.HandshakeFrame) {
      fail(ProtocolError.MALFORMED_FRAME, frame.getClass().getSimpleName() + " after the handshake");
    } else if (frame instanceof Frame.Data data) {
      IncomingChannelImpl channel = incomingFor(data.channel());
      if (channel != null) {
        channel.onData(data);
      }
    } else if (frame instanceof Frame.Credit credit) {
      OutgoingChannelImpl channel = outgoingFor(credit.channel());
      if (channel != null) {
        channel.onCredit(credit.increment());
      }
    } else if (frame instanceof Frame.Open open) {
      onOpen(open);
    } else if (frame instanceof Frame.Close close) {
      IncomingChannelImpl channel = incomingFor(close.channel());
      if (channel != null) {
        channel.onClose(close);
      }
    } else if (frame instanceof Frame.CloseAck ack) {
      OutgoingChannelImpl channel = outgoingFor(ack.channel());
      if (channel != null) {
        channel.onCloseAck();
      }
    } else if (frame instanceof Frame.Reset reset) {
      onReset(reset);
    } else if (frame instanceof Frame.Ping ping) {
      answerPing(ping.opaque());
    } else if (frame instanceof Frame.GoAway goAway) {
      LOG.info("UMS session {}: peer going away ({}: {})", sessionId(), goAway.code(), goAway.message());
      peerGoAway = true;
      closeIfDrained();
    }
    // PONG: receiving it already counted as life
  }

  /**
   * A peer that keeps pinging but never reads would otherwise make us queue PONGs without limit:
   * while the socket is full only the latest PING is remembered, and answered once it drains.
   */
  private void answerPing(long opaque) {
    if (writer.writable()) {
      unansweredPing = null;
      writer.send(new Frame.Pong(opaque));
    } else {
      unansweredPing = opaque;
    }
  }

  @Override
  public void onDecodeError(ProtocolError error, String message) {
    fail(error, message);
  }

  private void onPeerError(Frame.Error error) {
    LOG.info("UMS {} connection closed by peer: {} {}", client ? "client" : "server", error.code(), error.message());
    closeCause = new UmsProtocolException(error.code(), "peer: " + error.message());
    decoder.stop();
    socket.close();
  }

  private void onOpen(Frame.Open open) {
    int id = open.channel();
    if (isLocalId(id)) {
      fail(ProtocolError.MALFORMED_FRAME, "peer opened channel " + id + " with this side's id parity");
      return;
    }
    if (id <= highestPeerId) {
      fail(ProtocolError.MALFORMED_FRAME, "channel id " + id + " not above " + highestPeerId);
      return;
    }
    highestPeerId = id;
    if (localGoAway) {
      resetChannel(id, ProtocolError.GOING_AWAY, "no new channels after GOAWAY");
    } else if (incoming.size() >= options.getMaxChannels()) {
      resetChannel(id, ProtocolError.CHANNEL_LIMIT, "more than " + options.getMaxChannels() + " open channels");
    } else if (open.metadata().length() > options.getMaxMetadataSize()) {
      resetChannel(id, ProtocolError.METADATA_TOO_LARGE,
          open.metadata().length() + " bytes of metadata, limit " + options.getMaxMetadataSize());
    } else if (open.compressed() && !negotiated.lz4()) {
      resetChannel(id, ProtocolError.COMPRESSION_ERROR, "compression was not negotiated");
    } else if (channelHandler == null) {
      resetChannel(id, ProtocolError.CHANNEL_RESET, "this side accepts no channels");
    } else {
      JsonObject metadata = parseMetadata(open.metadata());
      if (metadata == null) {
        resetChannel(id, ProtocolError.MALFORMED_FRAME, "metadata is not a JSON object");
        return;
      }
      IncomingChannelImpl channel = new IncomingChannelImpl(this, open, metadata, options.getInitialWindow(),
          options.getMaxFrameSize());
      incoming.put(id, channel);
      try {
        channelHandler.handle(channel);
      } catch (RuntimeException e) {
        channel.applicationFailed(e);
      }
    }
  }

  private static JsonObject parseMetadata(Buffer bytes) {
    if (bytes.length() == 0) {
      return new JsonObject();
    }
    try {
      return new JsonObject(bytes);
    } catch (RuntimeException e) {
      return null;
    }
  }

  private void onReset(Frame.Reset reset) {
    int id = reset.channel();
    if (isLocalId(id)) {
      OutgoingChannelImpl channel = outgoingFor(id);
      if (channel != null) {
        channel.onPeerReset(reset.code(), reset.message());
      }
    } else {
      IncomingChannelImpl channel = incomingFor(id);
      if (channel != null) {
        channel.onPeerReset(reset.code(), reset.message());
      }
    }
  }

  /** The receiving channel for a peer-sent frame, null when it is finished (frame ignored) or unknown. */
  private IncomingChannelImpl incomingFor(int id) {
    if (isLocalId(id)) {
      fail(ProtocolError.MALFORMED_FRAME, "DATA/CLOSE on channel " + id + ", which this side sends on");
      return null;
    }
    IncomingChannelImpl channel = incoming.get(id);
    if (channel == null && id > highestPeerId) {
      fail(ProtocolError.UNKNOWN_CHANNEL, "channel " + id + " was never opened");
    }
    return channel;
  }

  private OutgoingChannelImpl outgoingFor(int id) {
    if (!isLocalId(id)) {
      fail(ProtocolError.MALFORMED_FRAME, "CREDIT/CLOSE_ACK on channel " + id + ", which the peer sends on");
      return null;
    }
    OutgoingChannelImpl channel = outgoing.get(id);
    if (channel == null && id >= nextLocalId) {
      fail(ProtocolError.UNKNOWN_CHANNEL, "channel " + id + " was never opened");
    }
    return channel;
  }

  private boolean isLocalId(int id) {
    return ((id & 1) == 1) == client;
  }

  // ---- called by channels ----

  void resetChannel(int id, ProtocolError code, String message) {
    LOG.debug("UMS session {} channel {} reset: {} {}", sessionId(), id, code, message);
    writer.send(new Frame.Reset(id, code, message));
  }

  void grantCredit(int id, int increment) {
    writer.send(new Frame.Credit(id, increment));
  }

  void sendCloseAck(int id) {
    writer.send(new Frame.CloseAck(id));
  }

  void channelFinished(int id) {
    if (outgoing.remove(id) == null) {
      incoming.remove(id);
    }
    closeIfDrained();
  }

  void countPayloadSent(int length) {
    payloadSent += length;
  }

  void countPayloadReceived(int length) {
    payloadReceived += length;
  }

  // ---- public API ----

  @Override
  public String sessionId() {
    return negotiated == null ? "?" : negotiated.sessionId();
  }

  @Override
  public Future<OutgoingChannel> openChannel(String kind, JsonObject metadata) {
    return openChannel(kind, metadata, false);
  }

  @Override
  public Future<OutgoingChannel> openChannel(String kind, JsonObject metadata, boolean compress) {
    return onContext(() -> doOpenChannel(kind, metadata == null ? new JsonObject() : metadata, compress));
  }

  private Future<OutgoingChannel> doOpenChannel(String kind, JsonObject metadata, boolean compress) {
    if (phase != Phase.OPEN) {
      return context.failedFuture(new UmsProtocolException(ProtocolError.CONNECTION_LOST, "connection is closed"));
    }
    if (localGoAway || peerGoAway) {
      return context.failedFuture(new UmsProtocolException(ProtocolError.GOING_AWAY, "connection is going away"));
    }
    Buffer encodedMetadata = metadata.toBuffer();
    if (encodedMetadata.length() > options.getMaxMetadataSize()
        || encodedMetadata.length() + kind.length() * 3 + 2 > negotiated.peerMaxFrameSize()) {
      return context.failedFuture(new UmsProtocolException(ProtocolError.METADATA_TOO_LARGE,
          encodedMetadata.length() + " bytes of metadata"));
    }
    int id = nextLocalId;
    nextLocalId += 2;
    boolean lz4 = compress && negotiated.lz4();
    // 64 KiB payloads stay within Netty's pooled buffer sizes on their way to the socket
    int maxChunk = Math.min(MAX_DATA_CHUNK, negotiated.peerMaxFrameSize() - FrameType.DATA_PREFIX_LZ4);
    OutgoingChannelImpl channel = new OutgoingChannelImpl(this, id, negotiated.peerInitialWindow(), maxChunk, lz4,
        options.getChannelWriteQueueSize());
    outgoing.put(id, channel);
    writer.send(new Frame.Open(id, lz4, kind, encodedMetadata));
    return context.succeededFuture(channel);
  }

  @Override
  public UmsConnection channelHandler(Handler<IncomingChannel> handler) {
    this.channelHandler = handler;
    return this;
  }

  @Override
  public UmsConnection closeHandler(Handler<Void> handler) {
    this.closeHandler = handler;
    return this;
  }

  @Override
  public UmsConnection exceptionHandler(Handler<Throwable> handler) {
    this.exceptionHandler = handler;
    return this;
  }

  @Override
  public Future<Void> goAway(ProtocolError code, String message) {
    return onContext(() -> {
      if (phase == Phase.OPEN && !localGoAway) {
        localGoAway = true;
        writer.send(new Frame.GoAway(highestPeerId, code, message));
        closeIfDrained();
      }
      return closed.future();
    });
  }

  @Override
  public Future<Void> close() {
    return onContext(() -> {
      if (phase != Phase.CLOSED) {
        socket.close();
      }
      return closed.future();
    });
  }

  @Override
  public ConnectionStats stats() {
    return new ConnectionStats(payloadSent, payloadReceived, writer.wireBytesSent(), wireReceived,
        outgoing.size() + incoming.size());
  }

  // ---- lifecycle ----

  private void closeIfDrained() {
    if (phase == Phase.OPEN && (localGoAway || peerGoAway) && outgoing.isEmpty() && incoming.isEmpty()) {
      if (localGoAway) {
        socket.close();
      }
    }
  }

  private void onTimer() {
    long now = System.nanoTime();
    long idleNanos = options.getIdleTimeout().toNanos();
    if (now - lastReceivedNanos > idleNanos) {
      fail(ProtocolError.IDLE_TIMEOUT, phase == Phase.HANDSHAKING
          ? "handshake not completed within " + options.getIdleTimeout()
          : "nothing received for " + options.getIdleTimeout());
    } else if (phase == Phase.HANDSHAKING && now - lastPingNanos > idleNanos) {
      // lastPingNanos doubles as the handshake start: a peer trickling bytes cannot stall us forever
      fail(ProtocolError.IDLE_TIMEOUT, "handshake not completed within " + options.getIdleTimeout());
    } else if (phase == Phase.OPEN && now - lastPingNanos >= options.getPingInterval().toNanos()) {
      lastPingNanos = now;
      if (writer.writable()) { // a full socket means the peer has our last PING still to read
        writer.send(new Frame.Ping(now));
      }
    }
    if (unansweredPing != null && writer.writable()) {
      answerPing(unansweredPing);
    }
  }

  /** A connection-level protocol error found on this side: ERROR frame, then close. */
  private void fail(ProtocolError error, String message) {
    if (phase == Phase.CLOSED || closeCause != null) {
      return;
    }
    LOG.info("UMS {} connection to {} failed: {} {}", client ? "client" : "server", socket.remoteAddress(), error,
        message);
    closeCause = new UmsProtocolException(error, message);
    decoder.stop();
    writer.send(new Frame.Error(error, message));
    writer.close();
    socket.close();
    Handler<Throwable> handler = exceptionHandler;
    if (handler != null && phase == Phase.OPEN) {
      handler.handle(closeCause);
    }
  }

  private void onSocketClosed() {
    if (phase == Phase.CLOSED) {
      return;
    }
    boolean wasOpen = phase == Phase.OPEN;
    phase = Phase.CLOSED;
    context.owner().cancelTimer(timerId);
    decoder.stop();
    writer.close();
    String why = closeCause == null ? "connection closed" : "connection closed: " + closeCause.getMessage();
    UmsProtocolException lost = new UmsProtocolException(ProtocolError.CONNECTION_LOST, why);
    for (OutgoingChannelImpl channel : new ArrayList<>(outgoing.values())) {
      channel.fail(lost);
    }
    for (IncomingChannelImpl channel : new ArrayList<>(incoming.values())) {
      channel.fail(lost);
    }
    handshakeResult.tryFail(closeCause != null ? closeCause : lost);
    closed.tryComplete();
    if (wasOpen && closeHandler != null) {
      closeHandler.handle(null);
    }
  }

  private <T> Future<T> onContext(Supplier<Future<T>> action) {
    if (context.inThread()) {
      return action.get();
    }
    Promise<T> promise = context.promise();
    context.execute(() -> action.get().onComplete(promise));
    return promise.future();
  }
}
