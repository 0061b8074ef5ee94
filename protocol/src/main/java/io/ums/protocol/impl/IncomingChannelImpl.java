package io.ums.protocol.impl;

import io.netty.buffer.ByteBuf;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsProtocolException;
import io.ums.protocol.codec.Frame;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.json.JsonObject;

/**
 * Receiver end of a channel: verifies each DATA frame (credit, CRC-32C, LZ4) and the CLOSE, and hands
 * the bytes to the handler as its {@link ReceiveWindow} releases them (PROTOCOL.md 2.2); the window
 * returns credit only for bytes delivered, so what is held here never exceeds it.
 */
final class IncomingChannelImpl implements IncomingChannel {
  private enum State { OPEN, CLOSE_VERIFIED, CLOSED, FAILED }

  private final ChannelRegistry registry;
  private final ContextInternal context;
  private final int id;
  private final String kind;
  private final JsonObject metadata;
  private final boolean compressed;
  private final int maxUncompressed;
  private final ReceiveWindow window;
  /** False under TLS when negotiated (PROTOCOL.md 2.4): the CRC-32C fields are then not checked. */
  private final boolean checksums;
  private State state = State.OPEN;
  private int channelCrc;
  private long received;
  private boolean delivering;
  private Handler<Buffer> handler;
  /** Takes each payload with its reference instead of {@link #handler} (a zero-copy socket pipe). */
  private Handler<ByteBuf> ownedHandler;
  private Handler<Void> endHandler;
  private Handler<Throwable> exceptionHandler;

  IncomingChannelImpl(ChannelRegistry registry, Frame.Open open, JsonObject metadata, int window,
      int maxUncompressed, boolean checksums) {
    this.registry = registry;
    this.context = registry.context();
    this.id = open.channel();
    this.kind = open.kind();
    this.metadata = metadata;
    this.compressed = open.compressed();
    this.window = new ReceiveWindow(window, increment -> registry.grantCredit(id, increment));
    this.maxUncompressed = maxUncompressed;
    this.checksums = checksums;
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
    return window.bufferedBytes();
  }

  /** Takes over the payload's reference: it is released here unless it reaches the window. */
  void onData(Frame.Data data) {
    if (!admit(data)) {
      OwnedBuffers.release(data.payload());
    }
  }

  private boolean admit(Frame.Data data) {
    if (state != State.OPEN) {
      protocolReset(ProtocolError.MALFORMED_FRAME, "DATA after CLOSE");
      return false;
    }
    int length = data.uncompressedLength();
    if (!window.admits(length)) {
      protocolReset(ProtocolError.FLOW_CONTROL_VIOLATION,
          length + " bytes sent with only " + window.creditLeft() + " bytes of credit left");
      return false;
    }
    if (checksums && Crc32c.of(data.payload()) != data.crc()) {
      protocolReset(ProtocolError.CHECKSUM_MISMATCH, "DATA frame CRC-32C mismatch at offset " + received);
      return false;
    }
    Buffer bytes = data.payload();
    int bytesCrc = data.crc();
    if (data.lz4()) {
      if (!compressed || length > maxUncompressed) {
        protocolReset(ProtocolError.COMPRESSION_ERROR, compressed
            ? "LZ4 block of " + length + " bytes above the frame limit" : "LZ4 frame on an uncompressed channel");
        return false;
      }
      try {
        bytes = Lz4Block.decompress(bytes, length);
        bytesCrc = checksums ? Crc32c.of(bytes) : 0;
      } catch (UmsProtocolException e) {
        protocolReset(e.error(), e.getMessage());
        return false;
      }
      OwnedBuffers.release(data.payload());
    }
    received += length;
    registry.countPayloadReceived(length);
    if (checksums) {
      channelCrc = Crc32c.combine(channelCrc, bytesCrc, length);
    }
    window.receive(bytes);
    deliver();
    return true;
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
    if (checksums && close.crc() != channelCrc) {
      protocolReset(ProtocolError.CHECKSUM_MISMATCH, "channel CRC-32C mismatch over " + received + " bytes");
      return;
    }
    state = State.CLOSE_VERIFIED;
    window.stopGranting();
    deliver();
  }

  void onPeerReset(ProtocolError code, String message) {
    fail(new UmsProtocolException(code, "peer reset channel " + id + ": " + message));
  }

  @Override
  public void reset(ProtocolError code, String message) {
    onContext(() -> {
      if (state == State.OPEN || state == State.CLOSE_VERIFIED) {
        registry.resetChannel(id, code, message);
        fail(new UmsProtocolException(code, "channel " + id + " reset locally: " + message));
      }
    });
  }

  private void protocolReset(ProtocolError code, String message) {
    registry.resetChannel(id, code, message);
    fail(new UmsProtocolException(code, "channel " + id + ": " + message));
  }

  void fail(UmsProtocolException cause) {
    if (state == State.CLOSED || state == State.FAILED) {
      return;
    }
    state = State.FAILED;
    window.discard();
    registry.channelFinished(id);
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
      Buffer next;
      while ((handler != null || ownedHandler != null) && state != State.FAILED && (next = window.poll()) != null) {
        boolean handed = ownedHandler != null
            ? handOver(ownedHandler, OwnedBuffers.unwrap(next))
            : handOver(handler, OwnedBuffers.forApplication(next));
        if (!handed) {
          return;
        }
      }
      // wait for a consumer before ending: an empty channel may close before anyone listens
      boolean consumerAttached = handler != null || ownedHandler != null || endHandler != null;
      if (state == State.CLOSE_VERIFIED && window.isEmpty() && consumerAttached) {
        state = State.CLOSED;
        registry.sendCloseAck(id);
        registry.channelFinished(id);
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
      registry.resetChannel(id, ProtocolError.INTERNAL, reason);
    }
    fail(new UmsProtocolException(ProtocolError.INTERNAL, "channel " + id + ": " + reason, cause));
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

  /**
   * Hands every payload to {@code owned} as the received Netty buffer with its reference (the handler
   * releases it, e.g. by writing it to a socket), not as a Vert.x buffer. Set on the channel's context.
   */
  void ownedHandler(Handler<ByteBuf> owned) {
    this.ownedHandler = owned;
    if (owned != null) {
      deliver();
    }
  }

  ContextInternal context() {
    return context;
  }

  @Override
  public IncomingChannel pause() {
    window.pause();
    return this;
  }

  @Override
  public IncomingChannel resume() {
    return fetch(Long.MAX_VALUE);
  }

  @Override
  public IncomingChannel fetch(long amount) {
    onContext(() -> {
      window.fetch(amount);
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

  /** Runs {@code action} on this channel's context: now when already there. */
  void onContext(Runnable action) {
    if (context.inThread()) {
      action.run();
    } else {
      context.execute(action);
    }
  }
}
