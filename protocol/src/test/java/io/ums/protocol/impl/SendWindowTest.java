package io.ums.protocol.impl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The sender's credit without a socket (PROTOCOL.md 2.2). */
class SendWindowTest {
  @Test
  void aFrameTakesAtMostTheCreditAndTheChunkSize() {
    SendWindow window = new SendWindow(100_000);
    assertThat(window.sendable(200_000, 65_536)).isEqualTo(65_536);
    window.spend(65_536);
    assertThat(window.sendable(200_000, 65_536)).isEqualTo(100_000 - 65_536);
    assertThat(window.sendable(10, 65_536)).isEqualTo(10);
  }

  @Test
  void spentCreditStopsTheSenderUntilTheReceiverGrantsMore() {
    SendWindow window = new SendWindow(1000);
    window.spend(1000);
    assertThat(window.hasCredit()).isFalse();
    assertThat(window.sendable(5, 65_536)).isZero();
    assertThatThrownBy(() -> window.spend(1)).isInstanceOf(IllegalStateException.class);

    assertThat(window.grant(500)).isTrue();
    assertThat(window.hasCredit()).isTrue();
    assertThat(window.credit()).isEqualTo(500);
  }

  @Test
  void aGrantLiftingTheCreditAbove2To31Minus1IsRefusedAndLeavesTheCredit() {
    SendWindow window = new SendWindow(Integer.MAX_VALUE - 10);
    assertThat(window.grant(10)).isTrue();
    assertThat(window.grant(1)).isFalse();
    assertThat(window.credit()).isEqualTo(Integer.MAX_VALUE);
  }
}
