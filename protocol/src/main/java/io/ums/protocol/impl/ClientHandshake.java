package io.ums.protocol.impl;

import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsEndpointOptions;
import io.ums.protocol.codec.Frame;
import io.ums.protocol.codec.FrameType;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;

/** Client half: HELLO, then CHALLENGE -> AUTH, then ACCEPT checked (PROTOCOL.md 2.1). */
final class ClientHandshake implements Handshake {
  private enum Step { AWAIT_CHALLENGE, AWAIT_ACCEPT, DONE }

  private final UmsEndpointOptions<?> options;
  private final String sessionId;
  private final Buffer token;
  private final HandshakeSink sink;
  private final Buffer binding;
  private final Buffer clientNonce = HandshakeProofs.nonce();
  private Step step = Step.AWAIT_CHALLENGE;
  private Buffer serverNonce;
  private List<String> offered;
  private List<String> codecs;

  /** @param binding the SHA-256 of the server's TLS certificate, empty on a plain connection */
  ClientHandshake(UmsEndpointOptions<?> options, String sessionId, Buffer token, Buffer binding, HandshakeSink sink) {
    this.options = options;
    this.sessionId = sessionId;
    this.token = token;
    this.binding = binding;
    this.sink = sink;
  }

  @Override
  public void start() {
    List<String> names = new ArrayList<>(options.getCompressionCodecs().stream()
        .filter(name -> !Negotiated.TLS_NO_CRC.equals(name)).sorted().toList());
    if (binding.length() > 0) {
      names.add(Negotiated.TLS_NO_CRC);
    }
    offered = List.copyOf(names);
    sink.send(new Frame.Hello(FrameType.VERSION, options.getMaxFrameSize(), options.getInitialWindow(), offered,
        sessionId, clientNonce));
  }

  @Override
  public void onFrame(Frame.HandshakeFrame frame) {
    if (step == Step.AWAIT_CHALLENGE && frame instanceof Frame.Challenge c) {
      onChallenge(c);
    } else if (step == Step.AWAIT_ACCEPT && frame instanceof Frame.Accept a) {
      onAccept(a);
    } else {
      sink.handshakeFailed(ProtocolError.NOT_AUTHENTICATED,
          "expected " + (step == Step.AWAIT_CHALLENGE ? "CHALLENGE" : "ACCEPT") + ", got "
              + frame.getClass().getSimpleName());
    }
  }

  private void onChallenge(Frame.Challenge c) {
    if (c.version() != FrameType.VERSION) {
      sink.handshakeFailed(ProtocolError.VERSION_MISMATCH,
          "client speaks protocol version " + FrameType.VERSION + ", server " + c.version());
      return;
    }
    if (!offered.containsAll(c.codecs())) {
      sink.handshakeFailed(ProtocolError.MALFORMED_FRAME, "server accepted codecs never offered: " + c.codecs());
      return;
    }
    serverNonce = c.serverNonce();
    codecs = c.codecs();
    step = Step.AWAIT_ACCEPT;
    sink.send(new Frame.Auth(HandshakeProofs.clientProof(token, sessionId, clientNonce, serverNonce, binding)));
  }

  private void onAccept(Frame.Accept a) {
    Buffer expected = HandshakeProofs.serverProof(token, sessionId, clientNonce, serverNonce, binding);
    if (!HandshakeProofs.matches(expected, a.serverProof())) {
      sink.handshakeFailed(ProtocolError.AUTH_FAILED, "server could not prove it holds the session token");
      return;
    }
    if (a.maxFrameSize() < UmsEndpointOptions.MIN_FRAME_SIZE || a.initialWindow() < UmsEndpointOptions.MIN_WINDOW) {
      sink.handshakeFailed(ProtocolError.MALFORMED_FRAME, "ACCEPT limits below the protocol minimum");
      return;
    }
    step = Step.DONE;
    sink.handshakeDone(new Negotiated(sessionId, a.maxFrameSize(), a.initialWindow(), codecs.contains(Lz4Block.CODEC),
        binding.length() == 0 || !codecs.contains(Negotiated.TLS_NO_CRC)));
  }
}
