package io.ums.protocol.impl;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;

/**
 * Makes a self-signed X.509 v3 certificate for a fresh P-256 key, DER-encoded by hand: the JDK signs but
 * has no public certificate builder, and a crypto library for this one structure is not worth its
 * megabytes. Nobody verifies the certificate against a CA: the UMS handshake binds its hash (PROTOCOL.md
 * 2.4), so it only has to be well-formed.
 */
public final class SelfSignedCertificates {
  private static final SecureRandom RANDOM = new SecureRandom();
  /** ecdsa-with-SHA256, 1.2.840.10045.4.3.2. */
  private static final byte[] ECDSA_WITH_SHA256 = {0x2A, (byte) 0x86, 0x48, (byte) 0xCE, 0x3D, 0x04, 0x03, 0x02};
  /** id-at-commonName, 2.5.4.3. */
  private static final byte[] COMMON_NAME = {0x55, 0x04, 0x03};
  private static final DateTimeFormatter UTC_TIME = DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'");

  /** A key pair and the certificate for it. */
  public record Identity(KeyPair keys, X509Certificate certificate) {}

  private SelfSignedCertificates() {}

  /** Blocking for a few milliseconds (key generation and one signature). */
  public static Identity create(String commonName) {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      KeyPair keys = generator.generateKeyPair();
      byte[] algorithm = sequence(oid(ECDSA_WITH_SHA256));
      byte[] cn = tlv(0x0C, commonName.getBytes(StandardCharsets.UTF_8));
      byte[] name = sequence(tlv(0x31, sequence(oid(COMMON_NAME), cn)));
      ZonedDateTime now = ZonedDateTime.now(ZoneOffset.UTC);
      byte[] validity = sequence(utcTime(now.minusHours(1)), utcTime(now.plusYears(10)));
      byte[] serial = new byte[16];
      RANDOM.nextBytes(serial);
      byte[] tbs = sequence(
          tlv(0xA0, tlv(0x02, new byte[] {2})), // [0] version v3
          tlv(0x02, new BigInteger(1, serial).toByteArray()),
          algorithm, name, validity, name,
          keys.getPublic().getEncoded()); // SubjectPublicKeyInfo, already DER
      Signature signer = Signature.getInstance("SHA256withECDSA");
      signer.initSign(keys.getPrivate(), RANDOM);
      signer.update(tbs);
      byte[] signature = signer.sign(); // DER ECDSA-Sig-Value, as X.509 wants it
      byte[] bitString = new byte[signature.length + 1]; // leading 0: no unused bits
      System.arraycopy(signature, 0, bitString, 1, signature.length);
      byte[] der = sequence(tbs, algorithm, tlv(0x03, bitString));
      X509Certificate certificate = (X509Certificate) CertificateFactory.getInstance("X.509")
          .generateCertificate(new ByteArrayInputStream(der));
      certificate.verify(keys.getPublic());
      return new Identity(keys, certificate);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot make a self-signed P-256 certificate: " + e, e);
    }
  }

  private static byte[] utcTime(ZonedDateTime time) {
    return tlv(0x17, UTC_TIME.format(time).getBytes(StandardCharsets.US_ASCII));
  }

  private static byte[] oid(byte[] encoded) {
    return tlv(0x06, encoded);
  }

  private static byte[] sequence(byte[]... parts) {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    for (byte[] part : parts) {
      body.writeBytes(part);
    }
    return tlv(0x30, body.toByteArray());
  }

  private static byte[] tlv(int tag, byte[] value) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(value.length + 6);
    out.write(tag);
    int length = value.length;
    if (length < 0x80) {
      out.write(length);
    } else {
      int bytes = (32 - Integer.numberOfLeadingZeros(length) + 7) / 8;
      out.write(0x80 | bytes);
      for (int i = bytes - 1; i >= 0; i--) {
        out.write(length >>> (8 * i));
      }
    }
    out.writeBytes(value);
    return out.toByteArray();
  }
}
