package io.ums.protocol.impl;

/**
 * The sender's half of one channel's flow control (PROTOCOL.md 2.2): the credit the receiver granted
 * and this side has not spent. Spending never goes below zero; a grant that would lift the credit above
 * 2^31-1 is refused (the caller resets the channel with FLOW_CONTROL_VIOLATION).
 */
final class SendWindow {
  static final long MAX_CREDIT = Integer.MAX_VALUE;

  private long credit;

  SendWindow(long initialCredit) {
    this.credit = initialCredit;
  }

  long credit() {
    return credit;
  }

  boolean hasCredit() {
    return credit > 0;
  }

  /** How many of {@code wanted} bytes may go in the next frame of at most {@code maxChunk} bytes. */
  int sendable(int wanted, int maxChunk) {
    return (int) Math.min(Math.min(wanted, credit), maxChunk);
  }

  void spend(int length) {
    if (length > credit) {
      throw new IllegalStateException(length + " bytes sent with only " + credit + " bytes of credit");
    }
    credit -= length;
  }

  /** Adds the receiver's CREDIT increment; false (credit unchanged) when it would exceed 2^31-1. */
  boolean grant(int increment) {
    if (credit + increment > MAX_CREDIT) {
      return false;
    }
    credit += increment;
    return true;
  }
}
