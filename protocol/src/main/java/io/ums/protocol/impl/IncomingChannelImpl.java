package io.ums.protocol.impl;

import io.ums.protocol.IncomingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsProtocolException;
import io.ums.protocol.codec.Frame;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;

/**
 * Receiver end of a channel: verifies each DATA frame, buffers it until the handler wants it, and
 * returns credit only for bytes delivered to the handler, in batches of half the window
 * (PROTOCOL.md 2.2). Bytes held here never exceed the window, whatever the consumer does.
 */
final class IncomingChannelImpl implements IncomingChannel {
  private enum State { OPEN, CLOSE_VERIFIED, CLOSED, FAILED }

  private final UmsConnectionImpl connection;
  private final ContextInternal context;
  private final int id;
  private final String kind;
  private final JsonObject metadata;
  private final boolean compressed;
  private final int window;
  private final int maxUncompressed;
  private final ArrayDeque<Buffer> buffered = new ArrayDeque<>();
  private State state = State.OPEN;
  private long creditLeft;
  private int channelCrc;
  private long consumedNotGranted;
  private long bufferedBytes;
  private long received;
  private long demand = Long.MAX_VALUE;
  private boolean delivering;
  private Handler<Buffer> handler;
  private Handler<Void> endHandler;
  private Handler<Throwable> exceptionHandler;

  IncomingChannelImpl(UmsConnectionImpl connection, Frame.Open open, JsonObject metadata, int window,
      int maxUncompressed) {
    this.connection = connection;
    this.context = connection.context();
    this.id = open.channel();
    this.kind = open.kind();
    this.metadata = metadata;
    this.compressed = open.compressed();
    this.window = window;
    this.creditLeft = window;
    this.maxUncompressed = maxUncompressed;
  }

  @Override
  public int id() {
    return id;
  }

  @Override
  public String kind() {
    return kind;
  }

  @Override
  public JsonObject metadata() {
    return metadata;
  }

  @Override
  public boolean compressed() {
    return compressed;
  }

  @Override
  public long bytesReceived() {
    return received;
  }

  /** Bytes received and not yet handed to the handler; never above the window. */
  long bufferedBytes() {
    return bufferedBytes;
  }

  void onData(Frame.Data data) {
    if (state != State.OPEN) {
      protocolReset(ProtocolError.MALFORMED_FRAME, "DATA after CLOSE");
      return;
    }
    int length = data.uncompressedLength();
    if (length > creditLeft) {
      protocolReset(ProtocolError.FLOW_CONTROL_VIOLATION,
          length + " bytes sent with only " + creditLeft + " bytes of credit left");
      return;
    }
    if (Crc32c.of(data.payload()) != data.crc()) {
      protocolReset(ProtocolError.CHECKSUM_MISMATCH, "DATA frame CRC-32C mismatch at offset " + received);
      return;
    }
    Buffer bytes = data.payload();
    int bytesCrc = data.crc();
    if (data.lz4()) {
      if (!compressed || length > maxUncompressed) {
        protocolReset(ProtocolError.COMPRESSION_ERROR, compressed
            ? "LZ4 block of " + length + " bytes above the frame limit" : "LZ4 frame on an uncompressed channel");
        return;
      }
      try {
        bytes = Lz4Block.decompress(bytes, length);
        bytesCrc = Crc32c.of(bytes);
      } catch (UmsProtocolException e) {
        protocolReset(e.error(), e.getMessage());
        return;
      }
    }
    creditLeft -= length;
    received += length;
    connection.countPayloadReceived(length);
    channelCrc = Crc32c.combine(channelCrc, bytesCrc, length);
    buffered.add(bytes);
    bufferedBytes += length;
    deliver();
  }

  void onClose(Frame.Close close) {
    if (state != State.OPEN) {
      protocolReset(ProtocolError.MALFORMED_FRAME, "second CLOSE");
      return;
    }
    if (close.totalLength() != received) {
      protocolReset(ProtocolError.LENGTH_MISMATCH,
          "CLOSE announced " + close.totalLength() + " bytes, received " + received);
      return;
    }
    if (close.crc() != channelCrc) {
      protocolReset(ProtocolError.CHECKSUM_MISMATCH, "channel CRC-32C mismatch over " + received + " bytes");
      return;
    }
    state = State.CLOSE_VERIFIED;
    deliver();
  }

  void onPeerReset(ProtocolError code, String message) {
    fail(new UmsProtocolException(code, "peer reset channel " + id + ": " + message));
  }

  @Override
  public void reset(ProtocolError code, String message) {
    onContext(() -> {
      if (state == State.OPEN || state == State.CLOSE_VERIFIED) {
        connection.resetChannel(id, code, message);
        fail(new UmsProtocolException(code, "channel " + id + " reset locally: " + message));
      }
    });
  }

  private void protocolReset(ProtocolError code, String message) {
    connection.resetChannel(id, code, message);
    fail(new UmsProtocolException(code, "channel " + id + ": " + message));
  }

  void fail(UmsProtocolException cause) {
    if (state == State.CLOSED || state == State.FAILED) {
      return;
    }
    state = State.FAILED;
    buffered.clear();
    bufferedBytes = 0;
    connection.channelFinished(id);
    Handler<Throwable> h = exceptionHandler;
    if (h != null) {
      h.handle(cause);
    }
  }

  private void deliver() {
    if (delivering) {
      return;
    }
    delivering = true;
    try {
      while (demand > 0 && handler != null && !buffered.isEmpty() && state != State.FAILED) {
        Buffer next = buffered.poll();
        bufferedBytes -= next.length();
        if (demand != Long.MAX_VALUE) {
          demand--;
        }
        consumed(next.length());
        if (!handOver(handler, next)) {
          return;
        }
      }
      // wait for a consumer before ending: an empty channel may close before anyone listens
      boolean consumerAttached = handler != null || endHandler != null;
      if (state == State.CLOSE_VERIFIED && buffered.isEmpty() && consumerAttached) {
        state = State.CLOSED;
        connection.sendCloseAck(id);
        connection.channelFinished(id);
        Handler<Void> h = endHandler;
        if (h != null) {
          handOver(h, null);
        }
      }
    } finally {
      delivering = false;
    }
  }

  /**
   * Runs the application's handler. A handler that throws fails this channel only (the peer gets a
   * RESET with the reason); the connection and its other channels carry on.
   */
  private <T> boolean handOver(Handler<T> target, T value) {
    try {
      target.handle(value);
      return true;
    } catch (RuntimeException e) {
      applicationFailed(e);
      return false;
    }
  }

  void applicationFailed(RuntimeException cause) {
    String reason = "the receiving application failed: " + cause;
    if (state == State.OPEN || state == State.CLOSE_VERIFIED) {
      connection.resetChannel(id, ProtocolError.INTERNAL, reason);
    }
    fail(new UmsProtocolException(ProtocolError.INTERNAL, "channel " + id + ": " + reason, cause));
  }

  private void consumed(int length) {
    consumedNotGranted += length;
    if (consumedNotGranted >= window / 2 && state == State.OPEN) {
      connection.grantCredit(id, (int) consumedNotGranted);
      creditLeft += consumedNotGranted;
      consumedNotGranted = 0;
    }
  }

  @Override
  public IncomingChannel exceptionHandler(Handler<Throwable> handler) {
    this.exceptionHandler = handler;
    return this;
  }

  @Override
  public IncomingChannel handler(Handler<Buffer> handler) {
    this.handler = handler;
    if (handler != null) {
      onContext(this::deliver);
    }
    return this;
  }

  @Override
  public IncomingChannel pause() {
    demand = 0;
    return this;
  }

  @Override
  public IncomingChannel resume() {
    return fetch(Long.MAX_VALUE);
  }

  @Override
  public IncomingChannel fetch(long amount) {
    onContext(() -> {
      demand = amount == Long.MAX_VALUE || demand + amount < 0 ? Long.MAX_VALUE : demand + amount;
      deliver();
    });
    return this;
  }

  @Override
  public IncomingChannel endHandler(Handler<Void> endHandler) {
    this.endHandler = endHandler;
    if (endHandler != null) {
      onContext(this::deliver);
    }
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
