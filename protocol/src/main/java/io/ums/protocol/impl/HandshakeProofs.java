package io.ums.protocol.impl;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** HMAC-SHA256 challenge-response proofs of PROTOCOL.md 2.1; the token itself never leaves here. */
final class HandshakeProofs {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final byte[] CLIENT_LABEL = "UMS1 client".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] SERVER_LABEL = "UMS1 server".getBytes(StandardCharsets.US_ASCII);

  private HandshakeProofs() {}

  static Buffer nonce() {
    byte[] nonce = new byte[io.ums.protocol.codec.FrameType.NONCE_SIZE];
    RANDOM.nextBytes(nonce);
    return Buffer.buffer(nonce);
  }

  static Buffer clientProof(Buffer token, String sessionId, Buffer clientNonce, Buffer serverNonce) {
    return clientProof(token, sessionId, clientNonce, serverNonce, Buffer.buffer());
  }

  static Buffer serverProof(Buffer token, String sessionId, Buffer clientNonce, Buffer serverNonce) {
    return serverProof(token, sessionId, clientNonce, serverNonce, Buffer.buffer());
  }

  /** With {@code binding}: the SHA-256 of the server's TLS certificate, empty on a plain connection. */
  static Buffer clientProof(Buffer token, String sessionId, Buffer clientNonce, Buffer serverNonce, Buffer binding) {
    return hmac(token, CLIENT_LABEL, sessionId, clientNonce, serverNonce, binding);
  }

  static Buffer serverProof(Buffer token, String sessionId, Buffer clientNonce, Buffer serverNonce, Buffer binding) {
    return hmac(token, SERVER_LABEL, sessionId, clientNonce, serverNonce, binding);
  }

  static boolean matches(Buffer expected, Buffer actual) {
    return MessageDigest.isEqual(expected.getBytes(), actual.getBytes());
  }

  private static Buffer hmac(Buffer token, byte[] label, String sessionId, Buffer clientNonce, Buffer serverNonce,
      Buffer binding) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      byte[] key = token.getBytes();
      mac.init(new SecretKeySpec(key.length == 0 ? new byte[1] : key, "HmacSHA256"));
      mac.update(label);
      mac.update(sessionId.getBytes(StandardCharsets.UTF_8));
      mac.update(clientNonce.getBytes());
      mac.update(serverNonce.getBytes());
      mac.update(binding.getBytes());
      return Buffer.buffer(mac.doFinal());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }
}
