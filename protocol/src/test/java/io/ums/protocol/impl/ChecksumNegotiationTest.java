package io.ums.protocol.impl;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsClientOptions;
import io.ums.protocol.UmsServerOptions;
import io.ums.protocol.codec.Frame;
import io.ums.protocol.codec.FrameType;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Whether DATA and CLOSE carry CRC-32Cs (PROTOCOL.md 2.4): left out only when the connection runs under TLS,
 * whose records already authenticate every byte in order, and both sides offered {@code tls-no-crc}; a plain
 * connection keeps them whatever a peer offers. The two handshake halves talk to each other directly here.
 */
class ChecksumNegotiationTest {
  private static final String SESSION = "session-1";
  private static final Buffer TOKEN = Buffer.buffer("one-time-token-0123456789");
  private static final Buffer CERTIFICATE_HASH = Buffer.buffer(new byte[32]).setByte(0, (byte) 7);

  /** Records what one half sends and how it ends. */
  private static final class Sink implements Handshake.HandshakeSink {
    final List<Frame> sent = new ArrayList<>();
    Negotiated negotiated;
    ProtocolError failure;

    @Override
    public void send(Frame frame) {
      sent.add(frame);
    }

    @Override
    public void handshakeDone(Negotiated negotiated) {
      this.negotiated = negotiated;
    }

    @Override
    public void handshakeFailed(ProtocolError error, String message) {
      this.failure = error;
    }

    Frame.HandshakeFrame last() {
      return (Frame.HandshakeFrame) sent.get(sent.size() - 1);
    }
  }

  private final Sink clientSink = new Sink();
  private final Sink serverSink = new Sink();

  private void handshake(Buffer clientBinding, Buffer serverBinding) {
    ClientHandshake client = new ClientHandshake(new UmsClientOptions(), SESSION, TOKEN, clientBinding, clientSink);
    ServerHandshake server = new ServerHandshake(new UmsServerOptions(),
        id -> SESSION.equals(id) ? Optional.of(TOKEN) : Optional.empty(), serverBinding, serverSink);
    client.start();
    server.onFrame(clientSink.last()); // HELLO
    client.onFrame(serverSink.last()); // CHALLENGE
    server.onFrame(clientSink.last()); // AUTH
    client.onFrame(serverSink.last()); // ACCEPT
  }

  @Test
  void underTlsBothSidesLeaveTheCrcsOut() {
    handshake(CERTIFICATE_HASH, CERTIFICATE_HASH);

    assertThat(((Frame.Hello) clientSink.sent.get(0)).codecs()).contains(Negotiated.TLS_NO_CRC);
    assertThat(((Frame.Challenge) serverSink.sent.get(0)).codecs()).contains(Negotiated.TLS_NO_CRC);
    assertThat(clientSink.failure).isNull();
    assertThat(serverSink.failure).isNull();
    assertThat(clientSink.negotiated.checksums()).isFalse();
    assertThat(serverSink.negotiated.checksums()).isFalse();
    assertThat(clientSink.negotiated.lz4()).isTrue();
  }

  @Test
  void aPlainConnectionKeepsTheCrcs() {
    handshake(Buffer.buffer(), Buffer.buffer());

    assertThat(((Frame.Hello) clientSink.sent.get(0)).codecs()).doesNotContain(Negotiated.TLS_NO_CRC);
    assertThat(clientSink.negotiated.checksums()).isTrue();
    assertThat(serverSink.negotiated.checksums()).isTrue();
  }

  @Test
  void aServerOnAPlainConnectionRefusesToLeaveTheCrcsOutWhateverTheClientOffers() {
    ServerHandshake server = new ServerHandshake(new UmsServerOptions(),
        id -> Optional.of(TOKEN), Buffer.buffer(), serverSink);
    Buffer clientNonce = HandshakeProofs.nonce();
    server.onFrame(new Frame.Hello(FrameType.VERSION, 65536, 65536, List.of("lz4", Negotiated.TLS_NO_CRC), SESSION,
        clientNonce));
    Frame.Challenge challenge = (Frame.Challenge) serverSink.last();
    assertThat(challenge.codecs()).containsExactly("lz4");

    server.onFrame(new Frame.Auth(
        HandshakeProofs.clientProof(TOKEN, SESSION, clientNonce, challenge.serverNonce(), Buffer.buffer())));
    assertThat(serverSink.failure).isNull();
    assertThat(serverSink.negotiated.checksums()).isTrue();
  }

  @Test
  void aServerThatDoesNotKnowTheCapabilityKeepsTheCrcsUnderTls() {
    ClientHandshake client = new ClientHandshake(new UmsClientOptions(), SESSION, TOKEN, CERTIFICATE_HASH, clientSink);
    client.start();
    Frame.Hello hello = (Frame.Hello) clientSink.last();
    Buffer serverNonce = HandshakeProofs.nonce();
    client.onFrame(new Frame.Challenge(FrameType.VERSION, serverNonce, List.of("lz4")));
    client.onFrame(new Frame.Accept(65536, 65536,
        HandshakeProofs.serverProof(TOKEN, SESSION, hello.clientNonce(), serverNonce, CERTIFICATE_HASH)));

    assertThat(clientSink.failure).isNull();
    assertThat(clientSink.negotiated.checksums()).isTrue();
  }
}
