package io.ums.protocol.impl;

import io.ums.protocol.SessionAuthenticator;
import io.ums.protocol.UmsConnection;
import io.ums.protocol.UmsServer;
import io.ums.protocol.UmsServerOptions;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;

/** Vert.x NetServer that runs the server handshake on each accepted socket. */
public final class UmsServerImpl implements UmsServer {
  private final UmsServerOptions options;
  private final NetServer netServer;
  private volatile SessionAuthenticator authenticator;
  private volatile Handler<UmsConnection> connectHandler;

  public UmsServerImpl(Vertx vertx, UmsServerOptions options) {
    this.options = options;
    this.netServer = vertx.createNetServer(new NetServerOptions().setTcpNoDelay(true));
    this.netServer.connectHandler(this::accept);
  }

  private void accept(NetSocket socket) {
    var context = SocketContext.of(socket);
    UmsConnectionImpl.acceptServer(context, socket, options, authenticator).onSuccess(connection -> {
      Handler<UmsConnection> handler = connectHandler;
      if (handler != null) {
        handler.handle(connection);
      } else {
        connection.close();
      }
    });
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
