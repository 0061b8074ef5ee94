package io.ums.protocol.impl;

import io.ums.protocol.codec.Frame;

/** One side's half of the handshake; it talks through {@link HandshakeSink}. */
interface Handshake {
  void start();

  void onFrame(Frame.HandshakeFrame frame);

  /** The connection side of a handshake. */
  interface HandshakeSink {
    void send(Frame frame);

    void handshakeDone(Negotiated negotiated);

    void handshakeFailed(io.ums.protocol.ProtocolError error, String message);
  }
}
