package io.ums.bench.probe;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One persistent probe connection: connect, send "c\n", wait for the answer line, repeat at most every
 * millisecond; on refusal, timeout or a closed connection, drop it and reconnect a millisecond later.
 * Only the probe thread touches it.
 */
final class ProbeEndpoint {
  private static final long CONNECT_TIMEOUT_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
  // A frozen or vanished source never answers; a second is far beyond a loaded link's queueing delay.
  private static final long ANSWER_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(1);
  private static final ByteBuffer REQUEST = ByteBuffer.wrap("c\n".getBytes(StandardCharsets.US_ASCII));

  private enum State { DISCONNECTED, CONNECTING, IDLE, AWAITING }

  private final InetSocketAddress address;
  private final Consumer<DowntimeProbe.Answer> onAnswer;
  private final ByteBuffer input = ByteBuffer.allocate(256);
  private SocketChannel channel;
  private State state = State.DISCONNECTED;
  private long since;
  private long lastRequestAt;
  private long nextAttemptAt;

  ProbeEndpoint(InetSocketAddress address, Consumer<DowntimeProbe.Answer> onAnswer) {
    this.address = address;
    this.onAnswer = onAnswer;
  }

  InetSocketAddress address() {
    return address;
  }

  void tick(long now, Selector selector) {
    switch (state) {
      case DISCONNECTED -> {
        if (now >= nextAttemptAt) {
          connect(now, selector);
        }
      }
      case CONNECTING -> {
        if (now - since > CONNECT_TIMEOUT_NANOS) {
          drop(now);
        }
      }
      case IDLE -> {
        if (now - lastRequestAt >= DowntimeProbe.REQUEST_INTERVAL_NANOS) {
          request(now);
        }
      }
      case AWAITING -> {
        if (now - since > ANSWER_TIMEOUT_NANOS) {
          drop(now);
        }
      }
    }
  }

  void onReady(SelectionKey key, long now) {
    try {
      if (key.isValid() && key.isConnectable() && state == State.CONNECTING) {
        channel.finishConnect();
        key.interestOps(SelectionKey.OP_READ);
        state = State.IDLE;
      }
      if (key.isValid() && key.isReadable()) {
        read(now);
      }
    } catch (IOException e) {
      drop(now);
    }
  }

  private void connect(long now, Selector selector) {
    try {
      channel = SocketChannel.open();
      channel.configureBlocking(false);
      channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
      boolean connected = channel.connect(address);
      channel.register(selector, connected ? SelectionKey.OP_READ : SelectionKey.OP_CONNECT, this);
      state = connected ? State.IDLE : State.CONNECTING;
      since = now;
      input.clear();
    } catch (IOException e) {
      drop(now);
    }
  }

  private void request(long now) {
    try {
      if (channel.write(REQUEST.duplicate()) == 2) {
        state = State.AWAITING;
        since = now;
        lastRequestAt = now;
      }
    } catch (IOException e) {
      drop(now);
    }
  }

  private void read(long now) throws IOException {
    if (channel.read(input) < 0) {
      drop(now);
      return;
    }
    input.flip();
    int lineStart = input.position();
    for (int i = input.position(); i < input.limit(); i++) {
      if (input.get(i) == '\n') {
        String line = StandardCharsets.US_ASCII.decode(input.slice(lineStart, i - lineStart)).toString();
        lineStart = i + 1;
        accept(line, now);
      }
    }
    input.position(lineStart);
    input.compact();
    if (!input.hasRemaining()) {
      drop(now);
    }
  }

  private void accept(String line, long now) {
    String[] parts = line.trim().split(" ");
    if (parts.length == 2 && state == State.AWAITING) {
      try {
        onAnswer.accept(new DowntimeProbe.Answer(now, Long.parseLong(parts[0]), parts[1], since));
        state = State.IDLE;
      } catch (NumberFormatException malformed) {
        drop(now);
      }
    }
  }

  private void drop(long now) {
    close();
    state = State.DISCONNECTED;
    nextAttemptAt = now + DowntimeProbe.REQUEST_INTERVAL_NANOS;
  }

  void close() {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException ignored) {
        // already gone
      }
      channel = null;
    }
  }
}
