package io.ums.protocol.impl;

/** What a successful handshake settled: who, the peer's limits, and whether LZ4 may be used. */
record Negotiated(String sessionId, int peerMaxFrameSize, int peerInitialWindow, boolean lz4) {}
