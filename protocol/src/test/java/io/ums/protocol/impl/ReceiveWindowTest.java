package io.ums.protocol.impl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import org.junit.jupiter.api.Test;

/**
 * The receiver's flow control without a socket: DATA payloads go in, the consumer pauses and fetches,
 * and the test reads the CREDIT increments the window asks to send (PROTOCOL.md 2.2).
 */
class ReceiveWindowTest {
  private static final int WINDOW = 64 * 1024;
  private static final int HALF = WINDOW / 2;

  // jqwik reuses one instance for all tries of a property: each try starts both afresh
  private List<Integer> credits = new ArrayList<>();
  private ReceiveWindow window = new ReceiveWindow(WINDOW, credits::add);

  private static Buffer bytes(int length) {
    return Buffer.buffer(new byte[length]);
  }

  /** Hands the consumer everything it asked for; returns the bytes it got. */
  private long drain() {
    long consumed = 0;
    for (Buffer next = window.poll(); next != null; next = window.poll()) {
      consumed += next.length();
    }
    return consumed;
  }

  @Test
  void receivingAloneReturnsNoCredit() {
    window.pause();
    window.receive(bytes(HALF));
    window.receive(bytes(HALF));

    assertThat(credits).isEmpty();
    assertThat(window.bufferedBytes()).isEqualTo(WINDOW);
    assertThat(window.creditLeft()).isZero();
  }

  @Test
  void creditGoesBackOnceHalfTheWindowIsConsumedNotBefore() {
    window.receive(bytes(HALF - 1));
    assertThat(drain()).isEqualTo(HALF - 1);
    assertThat(credits).isEmpty();

    window.receive(bytes(1));
    drain();
    assertThat(credits).containsExactly(HALF);
    assertThat(window.creditLeft()).isEqualTo(WINDOW);
  }

  @Test
  void aPausedConsumerFillsTheWindowAndTheSenderIsStoppedThere() {
    window.pause();
    window.receive(bytes(WINDOW - 10));

    assertThat(window.admits(10)).isTrue();
    assertThat(window.admits(11)).isFalse();
    assertThatThrownBy(() -> window.receive(bytes(11))).isInstanceOf(IllegalStateException.class);
    assertThat(window.poll()).isNull();
    assertThat(credits).isEmpty();
  }

  @Test
  void fetchReleasesOneBufferAtATimeAndCreditFollowsWhatWasConsumed() {
    window.pause();
    for (int i = 0; i < 4; i++) {
      window.receive(bytes(WINDOW / 4));
    }
    window.fetch(1);
    assertThat(window.poll()).isNotNull();
    assertThat(window.poll()).isNull();
    assertThat(credits).isEmpty();

    window.fetch(1);
    assertThat(window.poll()).isNotNull();
    assertThat(credits).containsExactly(HALF);
    assertThat(window.bufferedBytes()).isEqualTo(HALF);
    assertThat(window.admits(HALF)).isTrue();
    assertThat(window.admits(HALF + 1)).isFalse();
  }

  @Test
  void resumeFlowsUntilPausedAgain() {
    window.pause();
    window.receive(bytes(1000));
    window.receive(bytes(1000));
    window.fetch(Long.MAX_VALUE);
    assertThat(drain()).isEqualTo(2000);
    window.pause();
    window.receive(bytes(1000));
    assertThat(window.poll()).isNull();
  }

  @Test
  void afterTheSendersCloseConsumedBytesEarnNoCredit() {
    window.pause();
    window.receive(bytes(WINDOW));
    window.stopGranting();
    window.fetch(Long.MAX_VALUE);

    assertThat(drain()).isEqualTo(WINDOW);
    assertThat(credits).isEmpty();
  }

  @Test
  void discardedBytesAreNeitherDeliveredNorCredited() {
    window.receive(bytes(WINDOW));
    window.pause();
    window.discard();
    window.fetch(Long.MAX_VALUE);

    assertThat(window.poll()).isNull();
    assertThat(window.bufferedBytes()).isZero();
    assertThat(credits).isEmpty();
  }

  /** One step of a sender and a consumer acting in any order. */
  sealed interface Step {}

  record Send(int bytes) implements Step {}

  record Fetch(int buffers) implements Step {}

  record Pause() implements Step {}

  /**
   * Whatever the sender sends (always within the credit it was granted) and however the consumer
   * pauses and fetches: sender and receiver agree on the credit, what is held never exceeds the
   * window, every increment is at least half the window, and credit + bytes the sender may still
   * count on add up to the window plus what the consumer took.
   */
  @Property(tries = 300)
  void senderAndReceiverAlwaysAgreeOnTheCredit(@ForAll("steps") List<Step> steps) {
    credits = new ArrayList<>();
    window = new ReceiveWindow(WINDOW, credits::add);
    long senderCredit = WINDOW;
    long sent = 0;
    long consumed = 0;
    for (Step step : steps) {
      if (step instanceof Send send) {
        int length = (int) Math.min(send.bytes(), senderCredit);
        if (length > 0) {
          assertThat(window.admits(length)).isTrue();
          window.receive(bytes(length));
          senderCredit -= length;
          sent += length;
        }
      } else if (step instanceof Fetch fetch) {
        window.fetch(fetch.buffers());
      } else {
        window.pause();
      }
      consumed += drain();
      senderCredit += credits.stream().mapToLong(Integer::longValue).sum();
      assertThat(credits).allSatisfy(increment -> assertThat(increment).isGreaterThanOrEqualTo(HALF));
      credits.clear();

      assertThat(window.creditLeft()).isEqualTo(senderCredit);
      assertThat(window.bufferedBytes()).isEqualTo(sent - consumed).isLessThanOrEqualTo(WINDOW);
      assertThat(window.admits((int) senderCredit + 1)).isFalse();
    }
    window.fetch(Long.MAX_VALUE);
    consumed += drain();
    assertThat(consumed).isEqualTo(sent);
    senderCredit += credits.stream().mapToLong(Integer::longValue).sum();
    assertThat(WINDOW - senderCredit).as("consumed but not yet credited").isBetween(0L, (long) HALF - 1);
  }

  @Provide
  Arbitrary<List<Step>> steps() {
    Arbitrary<Step> send = Arbitraries.integers().between(1, WINDOW).map(Send::new);
    Arbitrary<Step> fetch = Arbitraries.integers().between(1, 5).map(Fetch::new);
    Arbitrary<Step> pause = Arbitraries.just(new Pause());
    return Arbitraries.frequencyOf(Tuple.of(6, send), Tuple.of(3, fetch), Tuple.of(1, pause)).list().ofMaxSize(60);
  }
}
