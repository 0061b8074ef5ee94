package io.ums.protocol.impl;

import io.netty.buffer.ByteBuf;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsProtocolException;
import io.ums.protocol.codec.Frame;
import io.ums.protocol.codec.FrameEncoder;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.buffer.BufferInternal;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Sender end of a channel: queues written buffers, and when the connection's writer asks, turns
 * them into DATA frames within the peer's credit, counted by its {@link SendWindow} (PROTOCOL.md 2.2).
 * The queue counter is atomic so that {@link #writeQueueFull()} is right even for a pipe running on
 * another event loop.
 */
final class OutgoingChannelImpl extends FrameWriter.Source implements OutgoingChannel {
  private enum State { OPEN, CLOSING, CLOSED, FAILED }

  private final ChannelRegistry registry;
  private final ContextInternal context;
  private final int id;
  private final int maxChunk;
  private final Lz4Block lz4;
  /** False under TLS when negotiated (PROTOCOL.md 2.4): the CRC-32C fields are then 0. */
  private final boolean checksums;
  /** Each holds a reference this channel gives to the socket with its frame (or releases on failure). */
  private final ArrayDeque<ByteBuf> pending = new ArrayDeque<>();
  private final AtomicLong queuedBytes = new AtomicLong();
  private final AtomicLong bytesWritten = new AtomicLong();
  private final Promise<Void> endPromise;
  private volatile int writeQueueMaxSize;
  private volatile boolean drainWanted;
  private volatile boolean endRequested;
  private volatile UmsProtocolException failure;
  private State state = State.OPEN;
  private final SendWindow window;
  private int channelCrc;
  private long bytesSent;
  private boolean closeSent;
  private Handler<Void> drainHandler;
  private Handler<Throwable> exceptionHandler;

  OutgoingChannelImpl(ChannelRegistry registry, int id, long initialCredit, int maxChunk, boolean compress,
      boolean checksums, int writeQueueMaxSize) {
    this.registry = registry;
    this.context = registry.context();
    this.id = id;
    this.window = new SendWindow(initialCredit);
    this.maxChunk = maxChunk;
    this.lz4 = compress ? new Lz4Block() : null;
    this.checksums = checksums;
    this.writeQueueMaxSize = writeQueueMaxSize;
    this.endPromise = context.promise();
  }

  @Override
  public int id() {
    return id;
  }

  ContextInternal context() {
    return context;
  }

  boolean compressed() {
    return lz4 != null;
  }

  @Override
  public long bytesWritten() {
    return bytesWritten.get();
  }

  @Override
  public Future<Void> write(Buffer data) {
    // a Vert.x buffer is not the channel's to release: its view shares the bytes without a reference
    return writeOwned(((BufferInternal) data).getByteBuf());
  }

  /**
   * Queues {@code data} and takes over its reference: it goes to the socket inside a DATA frame without
   * a copy and is released once written (or when the channel fails). Safe from any thread.
   */
  Future<Void> writeOwned(ByteBuf data) {
    UmsProtocolException failed = failure;
    if (failed != null) {
      data.release();
      return context.failedFuture(failed);
    }
    if (endRequested) {
      data.release();
      return context.failedFuture(new IllegalStateException("channel " + id + " already ended"));
    }
    int length = data.readableBytes();
    if (length == 0) {
      data.release();
      return context.succeededFuture();
    }
    bytesWritten.addAndGet(length);
    if (queuedBytes.addAndGet(length) >= writeQueueMaxSize) {
      drainWanted = true;
    }
    onContext(() -> enqueue(data));
    return context.succeededFuture();
  }

  private void enqueue(ByteBuf data) {
    if (state != State.OPEN) {
      data.release();
      return;
    }
    pending.add(data);
    if (window.hasCredit()) {
      registry.writer().schedule(this);
    }
  }

  @Override
  public Future<Void> end() {
    UmsProtocolException failed = failure;
    if (failed != null) {
      return context.failedFuture(failed);
    }
    endRequested = true;
    onContext(() -> {
      if (state == State.OPEN) {
        state = State.CLOSING;
        registry.writer().schedule(this);
      }
    });
    return endPromise.future();
  }

  @Override
  boolean writeNext(FrameWriter writer) {
    if (state != State.OPEN && state != State.CLOSING) {
      return false;
    }
    ByteBuf head = pending.peek();
    if (head == null) {
      if (state == State.CLOSING && !closeSent) {
        closeSent = true;
        writer.send(new Frame.Close(id, bytesSent, channelCrc));
      }
      return false;
    }
    if (!window.hasCredit()) {
      return false;
    }
    int length = window.sendable(head.readableBytes(), maxChunk);
    ByteBuf piece;
    if (length == head.readableBytes()) {
      piece = pending.poll();
    } else {
      piece = head.readRetainedSlice(length);
    }
    int pieceCrc = 0;
    if (checksums) {
      pieceCrc = Crc32c.of(piece);
      channelCrc = Crc32c.combine(channelCrc, pieceCrc, length);
    }
    Buffer compressed = lz4 == null ? null : lz4.compressOrNull(BufferInternal.buffer(piece));
    if (compressed != null) {
      piece.release();
      int compressedCrc = checksums ? Crc32c.of(compressed) : 0;
      writer.writeData(FrameEncoder.dataHeader(id, true, compressedCrc, length, compressed.length()),
          ((BufferInternal) compressed).getByteBuf());
    } else {
      writer.writeData(FrameEncoder.dataHeader(id, false, pieceCrc, length, length), piece);
    }
    window.spend(length);
    bytesSent += length;
    registry.countPayloadSent(length);
    long queued = queuedBytes.addAndGet(-length);
    if (drainWanted && queued < writeQueueMaxSize / 2 && drainHandler != null) {
      drainWanted = false;
      drainHandler.handle(null);
    }
    return pending.isEmpty() ? state == State.CLOSING : window.hasCredit();
  }

  void onCredit(int increment) {
    if (state != State.OPEN && state != State.CLOSING) {
      return;
    }
    if (!window.grant(increment)) {
      registry.resetChannel(id, ProtocolError.FLOW_CONTROL_VIOLATION, "credit above 2^31-1");
      fail(new UmsProtocolException(ProtocolError.FLOW_CONTROL_VIOLATION, "peer granted credit above 2^31-1 on channel " + id));
      return;
    }
    if (!pending.isEmpty()) {
      registry.writer().schedule(this);
    }
  }

  void onCloseAck() {
    if (!closeSent || state != State.CLOSING) {
      registry.resetChannel(id, ProtocolError.MALFORMED_FRAME, "CLOSE_ACK before CLOSE");
      fail(new UmsProtocolException(ProtocolError.MALFORMED_FRAME, "peer acknowledged channel " + id + " before its CLOSE"));
      return;
    }
    state = State.CLOSED;
    registry.channelFinished(id);
    endPromise.tryComplete();
  }

  void onPeerReset(ProtocolError code, String message) {
    fail(new UmsProtocolException(code, "peer reset channel " + id + ": " + message));
  }

  @Override
  public void reset(ProtocolError code, String message) {
    onContext(() -> {
      if (state == State.OPEN || state == State.CLOSING) {
        registry.resetChannel(id, code, message);
        fail(new UmsProtocolException(code, "channel " + id + " reset locally: " + message));
      }
    });
  }

  void fail(UmsProtocolException cause) {
    if (state == State.CLOSED || state == State.FAILED) {
      return;
    }
    state = State.FAILED;
    failure = cause;
    pending.forEach(ByteBuf::release);
    pending.clear();
    queuedBytes.set(0);
    registry.channelFinished(id);
    endPromise.tryFail(cause);
    Handler<Throwable> handler = exceptionHandler;
    if (handler != null) {
      handler.handle(cause);
    }
  }

  @Override
  public OutgoingChannel exceptionHandler(Handler<Throwable> handler) {
    this.exceptionHandler = handler;
    return this;
  }

  @Override
  public OutgoingChannel setWriteQueueMaxSize(int maxSize) {
    this.writeQueueMaxSize = maxSize;
    return this;
  }

  @Override
  public boolean writeQueueFull() {
    return queuedBytes.get() >= writeQueueMaxSize;
  }

  @Override
  public OutgoingChannel drainHandler(Handler<Void> handler) {
    this.drainHandler = handler;
    return this;
  }

  private void onContext(Runnable action) {
    if (context.inThread()) {
      action.run();
    } else {
      context.execute(action);
    }
  }
}
