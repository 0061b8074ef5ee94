package io.ums.protocol.impl;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.SocketReads;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetSocket;
import io.vertx.core.streams.WriteStream;
import java.util.ArrayDeque;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@link io.ums.protocol.SocketPipes} on Netty: reference-counted buffers from socket to frame and back. */
public final class OwnedSocketPipes {
  private static final Logger LOG = LoggerFactory.getLogger(OwnedSocketPipes.class);

  private OwnedSocketPipes() {
  }

  public static SocketReads takeReads(NetSocket socket) {
    ChannelHandlerContext vertxHandler = ((NetSocketInternal) socket).channelHandlerContext();
    Channel netty = vertxHandler.channel();
    Reads reads = new Reads(socket, netty);
    netty.config().setAutoRead(false);
    BulkReads.configure(netty);
    netty.pipeline().addBefore(vertxHandler.name(), "ums-owned-reads", reads);
    socket.handler(bytes -> {
      // cannot happen once the handler sits before Vert.x's; if it did, bytes would go out of order
      LOG.error("{} bytes from {} reached Vert.x past the owned reads; closing it", bytes.length(), socket.remoteAddress());
      socket.close();
    });
    return reads;
  }

  public static Future<Void> toSocket(IncomingChannel channel, NetSocket socket) {
    IncomingChannelImpl in = (IncomingChannelImpl) channel;
    NetSocketInternal out = (NetSocketInternal) socket;
    Promise<Void> result = in.context().promise();
    Runnable start = () -> {
      socket.drainHandler(ignored -> in.resume());
      // a failed write stops the pipe and fails it; what becomes of the channel is its owner's decision (it
      // may know better why the socket failed, e.g. the page server found the disk full). Socket callbacks
      // may run on the socket's own event loop: the channel is touched on its own.
      Runnable stop = () -> in.onContext(() -> {
        in.ownedHandler(null);
        in.pause();
      });
      socket.exceptionHandler(failure -> {
        if (result.tryFail(failure)) {
          stop.run();
        }
      });
      in.exceptionHandler(failure -> {
        if (result.tryFail(failure)) {
          socket.end();
        }
      });
      in.endHandler(ignored -> socket.end().onComplete(ended -> settle(result, ended)));
      in.ownedHandler(bytes -> {
        if (result.future().failed()) {
          bytes.release(); // the socket failed: nothing more goes to it (the channel's owner decides the rest)
          return;
        }
        out.writeMessage(bytes).onFailure(failure -> {
          if (result.tryFail(failure)) {
            stop.run();
          }
        });
        if (socket.writeQueueFull()) {
          in.pause();
        }
      });
      in.resume();
    };
    in.onContext(start);
    return result.future();
  }

  private static void settle(Promise<Void> result, AsyncResult<Void> outcome) {
    if (outcome.succeeded()) {
      result.tryComplete();
    } else {
      result.tryFail(outcome.cause());
    }
  }

  /** Sits before Vert.x's handler in the socket's pipeline and keeps every buffer the socket reads. */
  private static final class Reads extends ChannelInboundHandlerAdapter implements SocketReads {
    private final NetSocket socket;
    private final Channel netty;
    private final ArrayDeque<ByteBuf> early = new ArrayDeque<>();
    private WriteStream<Buffer> target;
    private Consumer<ByteBuf> writeOwned;
    private Promise<Void> result;
    private boolean ended;
    private boolean removed;

    Reads(NetSocket socket, Channel netty) {
      this.socket = socket;
      this.netty = netty;
    }

    @Override
    public NetSocket socket() {
      return socket;
    }

    @Override
    public Future<Void> pipeTo(OutgoingChannel channel) {
      OutgoingChannelImpl outgoing = (OutgoingChannelImpl) channel;
      Promise<Void> promise = outgoing.context().promise();
      netty.eventLoop().execute(() -> attach(outgoing, outgoing::writeOwned, promise));
      return promise.future();
    }

    @Override
    public Future<Void> pipeTo(NetSocket other) {
      NetSocketInternal out = (NetSocketInternal) other;
      Promise<Void> promise = Promise.promise();
      netty.eventLoop().execute(() -> attach(other, out::writeMessage, promise));
      return promise.future();
    }

    private void attach(WriteStream<Buffer> outgoing, Consumer<ByteBuf> write, Promise<Void> promise) {
      if (target != null) {
        promise.fail(new IllegalStateException("the socket's reads are already piped"));
        return;
      }
      if (removed) {
        promise.fail(new IllegalStateException("the socket closed before its reads were piped"));
        return;
      }
      target = outgoing;
      writeOwned = write;
      result = promise;
      outgoing.drainHandler(ignored -> netty.eventLoop().execute(this::readIfRoom));
      outgoing.exceptionHandler(failure -> {
        if (promise.tryFail(failure)) {
          socket.close();
        }
      });
      ByteBuf next;
      while ((next = early.poll()) != null) {
        write.accept(next);
      }
      if (ended) {
        finish();
      } else {
        readIfRoom();
      }
    }

    private void readIfRoom() {
      if (!ended && !target.writeQueueFull()) {
        netty.config().setAutoRead(true);
      }
    }

    private void finish() {
      target.end().onComplete(ended -> settle(result, ended));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object message) {
      if (!(message instanceof ByteBuf bytes)) {
        ctx.fireChannelRead(message);
        return;
      }
      if (target == null) {
        early.add(bytes);
        return;
      }
      writeOwned.accept(bytes);
      if (target.writeQueueFull()) {
        netty.config().setAutoRead(false);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      ended = true;
      // after a read error the stream is incomplete: never end the target as if it were whole
      if (target != null && !result.future().failed()) {
        finish();
      }
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      // the pipe fails; the channel's owner decides what becomes of the channel
      if (target != null) {
        result.tryFail(cause);
      }
      ctx.fireExceptionCaught(cause);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
      removed = true;
      early.forEach(ByteBuf::release);
      early.clear();
    }
  }
}
