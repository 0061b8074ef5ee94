package io.ums.protocol.impl;

import io.ums.protocol.codec.Frame;
import io.ums.protocol.codec.FrameEncoder;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import java.util.ArrayDeque;

/**
 * Owns the socket's send side. Control frames go out at once (they are small); channel data is
 * pulled from ready channels round-robin, one frame per channel per turn, only while the socket's
 * write queue has room, so a channel without credit never holds up another and a slow socket
 * holds up everyone evenly.
 */
final class FrameWriter {
  /** A channel with bytes to send. */
  interface Source {
    /** Writes at most one frame; returns true while it still has something it may send now. */
    boolean writeNext(FrameWriter writer);
  }

  private final NetSocket socket;
  private final ArrayDeque<Source> ready = new ArrayDeque<>();
  private boolean flushing;
  private boolean closed;
  private long wireBytesSent;

  FrameWriter(NetSocket socket) {
    this.socket = socket;
    socket.drainHandler(v -> flush());
  }

  long wireBytesSent() {
    return wireBytesSent;
  }

  void send(Frame frame) {
    write(FrameEncoder.encode(frame));
  }

  void write(Buffer bytes) {
    if (closed) {
      return;
    }
    wireBytesSent += bytes.length();
    socket.write(bytes);
  }

  /** Marks a source ready; it will be asked for frames as the socket allows. */
  void schedule(Source source) {
    if (!ready.contains(source)) {
      ready.add(source);
    }
    flush();
  }

  void close() {
    closed = true;
    ready.clear();
  }

  private void flush() {
    if (flushing) {
      return;
    }
    flushing = true;
    try {
      while (!closed && !ready.isEmpty() && !socket.writeQueueFull()) {
        Source source = ready.poll();
        if (source.writeNext(this) && !ready.contains(source)) {
          ready.add(source);
        }
      }
    } finally {
      flushing = false;
    }
  }
}
