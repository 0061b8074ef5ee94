package io.ums.protocol.impl;

import io.ums.protocol.ProtocolError;
import io.ums.protocol.codec.Frame;
import io.ums.protocol.codec.FrameDecoder;
import io.ums.protocol.codec.FrameEncoder;
import io.ums.protocol.codec.FrameHandler;
import io.ums.protocol.codec.FrameType;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.netty.channel.Channel;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * A hand-driven UMS client over a real socket: the test writes exactly the bytes it wants and
 * looks at every frame the server answers, including the ERROR before the close.
 */
final class RawPeer implements FrameHandler {
  /** Held for as long as the peer: Vert.x 5 closes an unreachable NetClient's sockets once GC finds it. */
  private final NetClient client;
  private final NetSocket socket;
  private final List<Frame> received = new ArrayList<>();
  private final List<Waiter> waiters = new ArrayList<>();
  private final Promise<Void> closed = Promise.promise();
  private final FrameDecoder decoder = new FrameDecoder(16 * 1024 * 1024, true, this);

  private record Waiter(Predicate<Frame> condition, Promise<Frame> promise) {}

  private RawPeer(NetClient client, NetSocket socket) {
    this.client = client;
    this.socket = socket;
    socket.handler(decoder);
    socket.closeHandler(v -> closed.tryComplete());
  }

  static Future<RawPeer> connect(Vertx vertx, int port) {
    return connect(vertx, port, new NetClientOptions());
  }

  static Future<RawPeer> connect(Vertx vertx, int port, NetClientOptions options) {
    NetClient client = vertx.createNetClient(options);
    return client.connect(port, "127.0.0.1").map(socket -> new RawPeer(client, socket));
  }

  /** Magic, HELLO, AUTH with a correct proof; completes once ACCEPT arrived and its proof checked out. */
  Future<Void> handshake(String sessionId, Buffer token, List<String> codecs) {
    Buffer clientNonce = HandshakeProofs.nonce();
    sendRaw(FrameEncoder.magic());
    send(new Frame.Hello(FrameType.VERSION, 1024 * 1024, 1024 * 1024, codecs, sessionId, clientNonce));
    return next(Frame.Challenge.class).compose(challenge -> {
      send(new Frame.Auth(HandshakeProofs.clientProof(token, sessionId, clientNonce, challenge.serverNonce())));
      return next(Frame.Accept.class).map(accept -> {
        Buffer expected = HandshakeProofs.serverProof(token, sessionId, clientNonce, challenge.serverNonce());
        if (!HandshakeProofs.matches(expected, accept.serverProof())) {
          throw new AssertionError("server proof wrong");
        }
        return null;
      });
    });
  }

  /** Stops reading: what the server writes piles up in its own buffers. */
  void pauseReading() {
    // not socket.pause(): Vert.x keeps reading into its own queue until that fills, so how much the peer
    // took depended on timing; with auto-read off the kernel's receive buffer is all it takes
    channel().config().setAutoRead(false);
  }

  void resumeReading() {
    channel().config().setAutoRead(true);
  }

  private Channel channel() {
    return ((NetSocketInternal) socket).channelHandlerContext().channel();
  }

  void send(Frame frame) {
    sendRaw(FrameEncoder.encode(frame));
  }

  void sendRaw(Buffer bytes) {
    socket.write(bytes);
  }

  /** The first frame (already received or still to come) of this type. */
  <F extends Frame> Future<F> next(Class<F> type) {
    return nextMatching(type::isInstance).map(type::cast);
  }

  Future<Frame.Error> error() {
    return next(Frame.Error.class);
  }

  Future<Frame.Reset> reset(int channel) {
    return nextMatching(f -> f instanceof Frame.Reset r && r.channel() == channel).map(Frame.Reset.class::cast);
  }

  Future<Frame> nextMatching(Predicate<Frame> condition) {
    for (Frame frame : received) {
      if (condition.test(frame)) {
        received.remove(frame);
        return Future.succeededFuture(frame);
      }
    }
    Promise<Frame> promise = Promise.promise();
    waiters.add(new Waiter(condition, promise));
    return promise.future();
  }

  Future<Void> closed() {
    return closed.future();
  }

  List<Frame> received() {
    return received;
  }

  @Override
  public void onFrame(Frame frame) {
    for (Waiter waiter : waiters) {
      if (waiter.condition.test(frame)) {
        waiters.remove(waiter);
        waiter.promise.complete(frame);
        return;
      }
    }
    received.add(frame);
  }

  @Override
  public void onDecodeError(ProtocolError error, String message) {
    waiters.forEach(w -> w.promise.tryFail(error + ": " + message));
  }
}
