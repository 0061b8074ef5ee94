package io.ums.protocol.impl;

import io.vertx.core.buffer.Buffer;
import java.util.ArrayDeque;
import java.util.function.IntConsumer;

/**
 * The receiver's half of one channel's flow control (PROTOCOL.md 2.2): bytes received and not yet
 * consumed, the consumer's demand ({@code pause}/{@code fetch}), and the credit owed to the sender.
 * Credit goes back only for bytes handed to the consumer, once they reach half the window, so what is
 * held here never exceeds the window whatever the consumer does. It knows no socket and no event loop:
 * the channel feeds it verified DATA payloads and sends the CREDIT frames it asks for.
 */
final class ReceiveWindow {
  private final int window;
  private final IntConsumer grantCredit;
  private final ArrayDeque<Buffer> buffered = new ArrayDeque<>();
  private long creditLeft;
  private long consumedNotGranted;
  private long bufferedBytes;
  private long demand = Long.MAX_VALUE;
  private boolean granting = true;

  /**
   * @param window the initial window this side announced for channels the peer opens
   * @param grantCredit sends one CREDIT frame with the given increment
   */
  ReceiveWindow(int window, IntConsumer grantCredit) {
    this.window = window;
    this.grantCredit = grantCredit;
    this.creditLeft = window;
  }

  /** Whether the sender had credit for this many more bytes; more is a FLOW_CONTROL_VIOLATION. */
  boolean admits(int length) {
    return length <= creditLeft;
  }

  /** The sender's credit as this side counts it. */
  long creditLeft() {
    return creditLeft;
  }

  /** Bytes received and not yet handed to the consumer; never above the window. */
  long bufferedBytes() {
    return bufferedBytes;
  }

  boolean isEmpty() {
    return buffered.isEmpty();
  }

  /** Keeps bytes the sender sent within its credit (check {@link #admits} first) until the consumer wants them. */
  void receive(Buffer bytes) {
    int length = bytes.length();
    if (!admits(length)) {
      throw new IllegalStateException(length + " bytes received with " + creditLeft + " bytes of credit left");
    }
    creditLeft -= length;
    buffered.add(bytes);
    bufferedBytes += length;
  }

  /**
   * The next buffer for the consumer, or null when nothing is buffered or the consumer wants nothing.
   * Handing it over counts as consumed: the credit it completes is granted before this returns.
   */
  Buffer poll() {
    if (demand == 0 || buffered.isEmpty()) {
      return null;
    }
    Buffer next = buffered.poll();
    bufferedBytes -= next.length();
    if (demand != Long.MAX_VALUE) {
      demand--;
    }
    consumed(next.length());
    return next;
  }

  void pause() {
    demand = 0;
  }

  /** Asks for {@code amount} more buffers; {@code Long.MAX_VALUE} means flowing. */
  void fetch(long amount) {
    demand = amount == Long.MAX_VALUE || demand + amount < 0 ? Long.MAX_VALUE : demand + amount;
  }

  /** After the sender's verified CLOSE it sends nothing more: consumed bytes no longer earn credit. */
  void stopGranting() {
    granting = false;
  }

  /** Drops what is buffered (the channel failed), releasing it; no credit is granted for it. */
  void discard() {
    buffered.forEach(OwnedBuffers::release);
    buffered.clear();
    bufferedBytes = 0;
    granting = false;
  }

  private void consumed(int length) {
    consumedNotGranted += length;
    if (consumedNotGranted >= window / 2 && granting) {
      creditLeft += consumedNotGranted;
      int increment = (int) consumedNotGranted;
      consumedNotGranted = 0;
      grantCredit.accept(increment);
    }
  }
}
