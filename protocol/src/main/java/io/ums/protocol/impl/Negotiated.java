package io.ums.protocol.impl;

/**
 * What a successful handshake settled: who, the peer's limits, whether LZ4 may be used, and whether DATA and
 * CLOSE carry CRC-32Cs ({@code checksums}; off only under TLS when both sides offered {@link #TLS_NO_CRC}).
 */
record Negotiated(String sessionId, int peerMaxFrameSize, int peerInitialWindow, boolean lz4, boolean checksums) {
  /**
   * The capability (listed with the codecs of HELLO and CHALLENGE, PROTOCOL.md 2.4) by which both sides of a
   * TLS connection agree to leave the CRC-32Cs out: TLS already authenticates every byte, in order.
   */
  static final String TLS_NO_CRC = "tls-no-crc";
}
