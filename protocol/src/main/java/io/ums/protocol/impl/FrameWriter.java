package io.ums.protocol.impl;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.WriteBufferWaterMark;
import io.ums.protocol.codec.Frame;
import io.ums.protocol.codec.FrameEncoder;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetSocket;
import java.util.ArrayDeque;

/**
 * Owns the socket's send side. Control frames go out at once (they are small); channel data is
 * pulled from ready channels round-robin, one frame per channel per turn, only while the socket's
 * write queue has room, so a channel without credit never holds up another and a slow socket
 * holds up everyone evenly. Frames are written to the Netty pipeline of the socket and flushed once
 * per batch (one gathering write for many frames); on a plain connection a DATA payload is a message of its
 * own, never copied into a frame buffer. Under TLS a DATA frame is copied once, header and payload, into one
 * direct buffer: the TLS engine reads only direct memory (it would copy a heap payload anyway), and one buffer
 * per frame lets {@link DataPlaneTls}'s handler encrypt it in one pass without gathering pieces of several
 * frames into records (which cost a second copy of a quarter of the bytes and an allocation per record).
 */
final class FrameWriter {
  /** A channel with bytes to send. */
  abstract static class Source {
    private boolean ready;

    /** Writes at most one frame; returns true while it still has something it may send now. */
    abstract boolean writeNext(FrameWriter writer);
  }

  private final ChannelHandlerContext pipeline;
  private final boolean encrypted;
  private final ArrayDeque<Source> ready = new ArrayDeque<>();
  private boolean flushing;
  private boolean batching;
  private boolean closed;
  private long wireBytesSent;

  FrameWriter(NetSocket socket, int writeQueueSize, boolean encrypted) {
    this.pipeline = ((NetSocketInternal) socket).channelHandlerContext();
    this.encrypted = encrypted;
    Channel channel = pipeline.channel();
    channel.config().setWriteBufferWaterMark(new WriteBufferWaterMark(writeQueueSize / 2, writeQueueSize));
    // frames bypass Vert.x's write queue, so its drain events do not fire: watch Netty's writability
    channel.pipeline().addFirst("ums-writability", new ChannelInboundHandlerAdapter() {
      @Override
      public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
          flush();
        }
        ctx.fireChannelWritabilityChanged();
      }
    });
  }

  /** False while the socket's outbound buffer is above its high-water mark. */
  boolean writable() {
    return pipeline.channel().isWritable();
  }

  long wireBytesSent() {
    return wireBytesSent;
  }

  void send(Frame frame) {
    write(FrameEncoder.encode(frame));
  }

  /** Writes bytes now, in order with every other frame; flushed at once unless a batch is running. */
  void write(Buffer bytes) {
    if (closed) {
      return;
    }
    writeMessage(bytes);
    if (!flushing && !batching) {
      pipeline.flush();
    }
  }

  /** Runs {@code action} (e.g. decoding one read) with one flush at its end for all it answered. */
  void batch(Runnable action) {
    boolean outer = !batching;
    batching = true;
    try {
      action.run();
    } finally {
      if (outer) {
        batching = false;
        pipeline.flush();
      }
    }
  }

  /**
   * Used by sources inside {@link Source#writeNext}: header and payload as two messages. Takes over the
   * payload's reference (the socket releases it once written).
   */
  void writeData(Buffer header, ByteBuf payload) {
    if (closed) {
      payload.release();
      return;
    }
    if (!encrypted) {
      writeMessage(header);
      wireBytesSent += payload.readableBytes();
      pipeline.write(payload, pipeline.voidPromise());
      return;
    }
    ByteBuf headerBytes = ((BufferInternal) header).getByteBuf();
    int length = headerBytes.readableBytes() + payload.readableBytes();
    ByteBuf frame = pipeline.alloc().directBuffer(length, length);
    frame.writeBytes(headerBytes, headerBytes.readerIndex(), headerBytes.readableBytes())
        .writeBytes(payload, payload.readerIndex(), payload.readableBytes());
    payload.release();
    wireBytesSent += length;
    pipeline.write(frame, pipeline.voidPromise());
  }

  private void writeMessage(Buffer bytes) {
    wireBytesSent += bytes.length();
    pipeline.write(((BufferInternal) bytes).getByteBuf(), pipeline.voidPromise());
  }

  /** Marks a source ready; it will be asked for frames as the socket allows. */
  void schedule(Source source) {
    if (!source.ready) {
      source.ready = true;
      ready.add(source);
    }
    flush();
  }

  void close() {
    closed = true;
    ready.forEach(source -> source.ready = false);
    ready.clear();
  }

  private void flush() {
    if (flushing) {
      return;
    }
    flushing = true;
    try {
      while (!closed && !ready.isEmpty() && pipeline.channel().isWritable()) {
        Source source = ready.poll();
        source.ready = false;
        if (source.writeNext(this) && !source.ready) {
          source.ready = true;
          ready.add(source);
        }
      }
    } finally {
      flushing = false;
      pipeline.flush();
    }
  }
}
