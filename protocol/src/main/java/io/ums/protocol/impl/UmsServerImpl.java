package io.ums.protocol.impl;

import io.ums.protocol.SessionAuthenticator;
import io.ums.protocol.UmsConnection;
import io.ums.protocol.UmsServer;
import io.ums.protocol.UmsServerOptions;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;

/**
 * Vert.x NetServer that runs the server handshake on each accepted socket; with TLS on, first tells a
 * TLS connection from a plain one and runs TLS under the first. The TLS identity is made when first
 * needed: most agents never receive an encrypted migration and need not carry the TLS stack.
 */
public final class UmsServerImpl implements UmsServer {
  private final Vertx vertx;
  private final UmsServerOptions options;
  private final NetServer netServer;
  private Future<DataPlaneTls> tls; // made once, when first needed; guarded by this
  private volatile SessionAuthenticator authenticator;
  private volatile Handler<UmsConnection> connectHandler;

  public UmsServerImpl(Vertx vertx, UmsServerOptions options) {
    this.vertx = vertx;
    this.options = options;
    this.netServer = vertx.createNetServer(new NetServerOptions().setTcpNoDelay(true));
    this.netServer.connectHandler(this::accept);
  }

  private void accept(NetSocket socket) {
    if (!options.isTls()) {
      start(socket, Buffer.buffer());
      return;
    }
    // a peer that never sends its first bytes holds no connection for longer than the handshake may last
    long timer = vertx.setTimer(options.getIdleTimeout().toMillis(), id -> socket.close());
    DataPlaneTls.detect(socket, this::tls, binding -> {
      vertx.cancelTimer(timer);
      start(socket, binding);
    }, () -> {
      vertx.cancelTimer(timer);
      socket.close();
    });
  }

  private void start(NetSocket socket, Buffer tlsBinding) {
    var context = SocketContext.of(socket);
    UmsConnectionImpl.acceptServer(context, socket, options, authenticator, tlsBinding).onSuccess(connection -> {
      Handler<UmsConnection> handler = connectHandler;
      if (handler != null) {
        handler.handle(connection);
      } else {
        connection.close();
      }
    });
  }

  /** The TLS key and certificate, made on a worker thread the first time (key generation, native TLS library). */
  private synchronized Future<DataPlaneTls> tls() {
    if (tls == null) {
      Future<DataPlaneTls> made = vertx.executeBlocking(DataPlaneTls::ephemeral, false);
      tls = made;
      made.onFailure(e -> forget(made));
    }
    return tls;
  }

  private synchronized void forget(Future<DataPlaneTls> failed) {
    if (tls == failed) {
      tls = null; // the next TLS connection tries again
    }
  }

  @Override
  public Future<Void> prepareTls() {
    return options.isTls() ? tls().mapEmpty() : Future.succeededFuture();
  }

  @Override
  public UmsServer authenticator(SessionAuthenticator authenticator) {
    this.authenticator = authenticator;
    return this;
  }

  @Override
  public UmsServer connectHandler(Handler<UmsConnection> handler) {
    this.connectHandler = handler;
    return this;
  }

  @Override
  public Future<Integer> listen(int port, String host) {
    return netServer.listen(port, host).map(NetServer::actualPort);
  }

  @Override
  public Future<Void> close() {
    return netServer.close();
  }
}
