package io.ums.protocol.impl;

import io.ums.protocol.ProtocolError;
import io.ums.protocol.SessionAuthenticator;
import io.ums.protocol.UmsEndpointOptions;
import io.ums.protocol.codec.Frame;
import io.ums.protocol.codec.FrameType;
import io.vertx.core.buffer.Buffer;
import java.util.List;
import java.util.Optional;

/** Server half: HELLO -> CHALLENGE, AUTH -> ACCEPT (PROTOCOL.md 2.1). */
final class ServerHandshake implements Handshake {
  private enum Step { AWAIT_HELLO, AWAIT_AUTH, DONE }

  private final UmsEndpointOptions<?> options;
  private final SessionAuthenticator authenticator;
  private final HandshakeSink sink;
  private final Buffer binding;
  private Step step = Step.AWAIT_HELLO;
  private Frame.Hello hello;
  private Buffer token;
  private Buffer serverNonce;
  private List<String> codecs;

  /** @param binding the SHA-256 of this server's TLS certificate, empty on a plain connection */
  ServerHandshake(UmsEndpointOptions<?> options, SessionAuthenticator authenticator, Buffer binding,
      HandshakeSink sink) {
    this.options = options;
    this.authenticator = authenticator;
    this.binding = binding;
    this.sink = sink;
  }

  @Override
  public void start() {
    // the server speaks only after HELLO (its magic went out when the socket was accepted)
  }

  @Override
  public void onFrame(Frame.HandshakeFrame frame) {
    if (step == Step.AWAIT_HELLO && frame instanceof Frame.Hello h) {
      onHello(h);
    } else if (step == Step.AWAIT_AUTH && frame instanceof Frame.Auth a) {
      onAuth(a);
    } else {
      sink.handshakeFailed(ProtocolError.NOT_AUTHENTICATED,
          "expected " + (step == Step.AWAIT_HELLO ? "HELLO" : "AUTH") + ", got " + frame.getClass().getSimpleName());
    }
  }

  private void onHello(Frame.Hello h) {
    if (h.version() != FrameType.VERSION) {
      sink.handshakeFailed(ProtocolError.VERSION_MISMATCH,
          "server speaks protocol version " + FrameType.VERSION + ", client " + h.version());
      return;
    }
    if (h.maxFrameSize() < UmsEndpointOptions.MIN_FRAME_SIZE || h.initialWindow() < UmsEndpointOptions.MIN_WINDOW) {
      sink.handshakeFailed(ProtocolError.MALFORMED_FRAME, "HELLO limits below the protocol minimum");
      return;
    }
    Optional<Buffer> found;
    try {
      if (binding.length() == 0 && authenticator != null && authenticator.requiresTls(h.sessionId())) {
        sink.handshakeFailed(ProtocolError.TLS_REQUIRED,
            "session " + h.sessionId() + " was reserved for an encrypted transfer: connect with TLS");
        return;
      }
      found = authenticator == null ? Optional.empty() : authenticator.tokenFor(h.sessionId());
    } catch (RuntimeException e) {
      sink.handshakeFailed(ProtocolError.INTERNAL, "session lookup failed");
      return;
    }
    if (found.isEmpty()) {
      sink.handshakeFailed(ProtocolError.AUTH_FAILED, "authentication failed");
      return;
    }
    hello = h;
    token = found.get();
    serverNonce = HandshakeProofs.nonce();
    codecs = h.codecs().stream().filter(this::accepts).distinct().toList();
    step = Step.AWAIT_AUTH;
    sink.send(new Frame.Challenge(FrameType.VERSION, serverNonce, codecs));
  }

  /** A configured compression codec; leaving the CRC-32Cs out only on a TLS connection. */
  private boolean accepts(String name) {
    return Negotiated.TLS_NO_CRC.equals(name) ? binding.length() > 0 : options.getCompressionCodecs().contains(name);
  }

  private void onAuth(Frame.Auth a) {
    Buffer expected =
        HandshakeProofs.clientProof(token, hello.sessionId(), hello.clientNonce(), serverNonce, binding);
    if (!HandshakeProofs.matches(expected, a.clientProof())) {
      sink.handshakeFailed(ProtocolError.AUTH_FAILED, "authentication failed");
      return;
    }
    step = Step.DONE;
    Buffer serverProof =
        HandshakeProofs.serverProof(token, hello.sessionId(), hello.clientNonce(), serverNonce, binding);
    sink.send(new Frame.Accept(options.getMaxFrameSize(), options.getInitialWindow(), serverProof));
    sink.handshakeDone(new Negotiated(hello.sessionId(), hello.maxFrameSize(), hello.initialWindow(),
        codecs.contains(Lz4Block.CODEC), binding.length() == 0 || !codecs.contains(Negotiated.TLS_NO_CRC)));
  }
}
