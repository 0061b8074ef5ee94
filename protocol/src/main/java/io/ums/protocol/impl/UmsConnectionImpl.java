package io.ums.protocol.impl;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;
import io.ums.protocol.ConnectionStats;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.SessionAuthenticator;
import io.ums.protocol.UmsConnection;
import io.ums.protocol.UmsEndpointOptions;
import io.ums.protocol.UmsProtocolException;
import io.ums.protocol.codec.Frame;
import io.ums.protocol.codec.FrameDecoder;
import io.ums.protocol.codec.FrameEncoder;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One UMS connection and its state machine (PROTOCOL.md 4): HANDSHAKING until its {@link Handshake}
 * settles, OPEN (draining after a GOAWAY) while {@link FrameDispatcher} routes frames to the
 * {@link ChannelRegistry}'s channels and {@link KeepAlive} watches the peer, CLOSED after an ERROR, an idle
 * timeout or the socket's end, when every open channel fails with CONNECTION_LOST. Everything runs on the
 * socket's event loop; the public API hands calls from other threads over to it.
 */
public final class UmsConnectionImpl implements UmsConnection, Handshake.HandshakeSink {
  private static final Logger LOG = LoggerFactory.getLogger(UmsConnectionImpl.class);

  private enum Phase { HANDSHAKING, OPEN, CLOSED }

  private final ContextInternal context;
  private final NetSocket socket;
  private final UmsEndpointOptions<?> options;
  private final boolean client;
  private final FrameWriter writer;
  private final ChannelRegistry channels;
  private final KeepAlive keepAlive;
  private final Handshake handshake;
  private final FrameDecoder decoder;
  private final Promise<UmsConnection> handshakeResult;
  private final Promise<Void> closed;
  private Phase phase = Phase.HANDSHAKING;
  private Negotiated negotiated;
  private boolean localGoAway;
  private boolean peerGoAway;
  private UmsProtocolException closeCause;
  private long wireReceived;
  private Handler<IncomingChannel> channelHandler;
  private Handler<Void> closeHandler;
  private Handler<Throwable> exceptionHandler;

  private UmsConnectionImpl(ContextInternal context, NetSocket socket, UmsEndpointOptions<?> options, boolean client,
      boolean encrypted, Function<Handshake.HandshakeSink, Handshake> handshakeFactory) {
    this.context = context;
    this.socket = socket;
    this.options = options;
    this.client = client;
    this.writer = new FrameWriter(socket, options.getSocketWriteQueueSize(), encrypted);
    this.channels = new ChannelRegistry(context, writer, options, client, this::fail, this::closeIfDrained);
    this.keepAlive = new KeepAlive(context.owner(), options, writer, this::fail);
    this.handshake = handshakeFactory.apply(this);
    this.decoder = new FrameDecoder(options.getMaxFrameSize(), true,
        new FrameDispatcher(this, handshake, channels, keepAlive));
    this.handshakeResult = context.promise();
    this.closed = context.promise();
  }

  /**
   * Starts the client side on a freshly connected socket (under TLS when {@code tlsBinding}, the hash of
   * the server's certificate, is not empty); completes after the handshake.
   */
  public static Future<UmsConnection> connectClient(ContextInternal context, NetSocket socket,
      UmsEndpointOptions<?> options, String sessionId, Buffer token, Buffer tlsBinding) {
    UmsConnectionImpl connection = new UmsConnectionImpl(context, socket, options, true, tlsBinding.length() > 0,
        sink -> new ClientHandshake(options, sessionId, token, tlsBinding, sink));
    connection.start();
    return connection.handshakeResult.future();
  }

  /** Starts the server side on an accepted socket (TLS as for the client); completes after the handshake. */
  public static Future<UmsConnection> acceptServer(ContextInternal context, NetSocket socket,
      UmsEndpointOptions<?> options, SessionAuthenticator authenticator, Buffer tlsBinding) {
    UmsConnectionImpl connection = new UmsConnectionImpl(context, socket, options, false, tlsBinding.length() > 0,
        sink -> new ServerHandshake(options, authenticator, tlsBinding, sink));
    connection.start();
    return connection.handshakeResult.future();
  }

  private void start() {
    // the socket's own (pooled) buffers, not Vert.x's heap copies of them: DATA payloads stay slices of
    // what the socket read until their consumer takes them (OwnedBuffers)
    BulkReads.configure(((NetSocketInternal) socket).channelHandlerContext().channel());
    ((NetSocketInternal) socket).messageHandler(message -> {
      if (!(message instanceof ByteBuf bytes)) {
        ReferenceCountUtil.release(message);
        return;
      }
      wireReceived += bytes.readableBytes();
      keepAlive.received();
      writer.batch(() -> decoder.handle(bytes));
    });
    socket.closeHandler(v -> onSocketClosed());
    socket.exceptionHandler(e -> LOG.debug("UMS socket error on {}: {}", socket.remoteAddress(), e.toString()));
    writer.write(FrameEncoder.magic());
    keepAlive.start();
    handshake.start();
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
    keepAlive.opened();
    LOG.debug("UMS session {} connected ({}), lz4={}", negotiated.sessionId(), client ? "client" : "server",
        negotiated.lz4());
    handshakeResult.tryComplete(this);
  }

  @Override
  public void handshakeFailed(ProtocolError error, String message) {
    fail(error, message);
  }

  // ---- told by the dispatcher ----

  boolean isOpen() {
    return phase == Phase.OPEN;
  }

  boolean isClosed() {
    return phase == Phase.CLOSED;
  }

  void onPeerOpen(Frame.Open open) {
    channels.accept(open, negotiated, localGoAway, channelHandler);
  }

  void onPeerGoAway(Frame.GoAway goAway) {
    LOG.info("UMS session {}: peer going away ({}: {})", sessionId(), goAway.code(), goAway.message());
    peerGoAway = true;
    closeIfDrained();
  }

  void onPeerError(Frame.Error error) {
    LOG.info("UMS {} connection closed by peer: {} {}", client ? "client" : "server", error.code(), error.message());
    closeCause = new UmsProtocolException(error.code(), "peer: " + error.message());
    decoder.stop();
    socket.close();
  }

  /** A connection-level protocol error found on this side: ERROR frame, then close. */
  void fail(ProtocolError error, String message) {
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
    return context.succeededFuture(channels.open(kind, encodedMetadata, compress, negotiated));
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
        writer.send(new Frame.GoAway(channels.highestPeerId(), code, message));
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
    return new ConnectionStats(channels.payloadSent(), channels.payloadReceived(), writer.wireBytesSent(),
        wireReceived, channels.openChannels());
  }

  // ---- teardown ----

  /** After a GOAWAY either way, the side that sent it closes once its last channel is done. */
  private void closeIfDrained() {
    if (phase == Phase.OPEN && localGoAway && channels.isEmpty()) {
      socket.close();
    }
  }

  private void onSocketClosed() {
    if (phase == Phase.CLOSED) {
      return;
    }
    boolean wasOpen = phase == Phase.OPEN;
    phase = Phase.CLOSED;
    keepAlive.stop();
    decoder.stop();
    writer.close();
    String why = closeCause == null ? "connection closed" : "connection closed: " + closeCause.getMessage();
    UmsProtocolException lost = new UmsProtocolException(ProtocolError.CONNECTION_LOST, why);
    channels.failAll(lost);
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
