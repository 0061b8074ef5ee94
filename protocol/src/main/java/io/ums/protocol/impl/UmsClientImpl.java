package io.ums.protocol.impl;

import io.ums.protocol.UmsClient;
import io.ums.protocol.UmsClientOptions;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;

/** Vert.x NetClient that runs the client handshake on each new socket, under TLS when asked. */
public final class UmsClientImpl implements UmsClient {
  private final VertxInternal vertx;
  private final UmsClientOptions options;
  private final NetClient netClient;

  public UmsClientImpl(Vertx vertx, UmsClientOptions options) {
    this.vertx = (VertxInternal) vertx;
    this.options = options;
    this.netClient = vertx.createNetClient(new NetClientOptions()
        .setTcpNoDelay(true)
        .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, options.getConnectTimeout().toMillis())));
  }

  @Override
  public Future<UmsConnection> connect(String host, int port, String sessionId, Buffer token) {
    return connect(host, port, sessionId, token, false);
  }

  /**
   * Always connects from an event loop: the server sends its magic as soon as it accepts, and a socket
   * without a handler drops what it reads. Connected from another thread (a test's), the continuation that
   * sets the handler ran as a task behind the first read under load, the peer's magic was lost and its first
   * frame read as the magic ("BAD_MAGIC ... got 0x00000027"); from the loop it runs as the connect completes.
   */
  @Override
  public Future<UmsConnection> connect(String host, int port, String sessionId, Buffer token, boolean encrypt) {
    ContextInternal context = vertx.getOrCreateContext();
    if (context.isRunningOnContext()) {
      return connectOnLoop(host, port, sessionId, token, encrypt);
    }
    Promise<UmsConnection> connected = context.promise();
    context.runOnContext(v -> connectOnLoop(host, port, sessionId, token, encrypt).onComplete(connected));
    return connected.future();
  }

  private Future<UmsConnection> connectOnLoop(String host, int port, String sessionId, Buffer token,
      boolean encrypt) {
    return netClient.connect(port, host).compose(socket -> {
      var context = SocketContext.of(socket);
      Future<Buffer> binding = encrypt ? DataPlaneTls.secure(context, socket, host, port)
          : context.succeededFuture(Buffer.buffer());
      return binding
          .onFailure(failure -> socket.close())
          .compose(tlsBinding ->
              UmsConnectionImpl.connectClient(context, socket, options, sessionId, token, tlsBinding));
    });
  }

  @Override
  public Future<Void> close() {
    return netClient.close();
  }
}
