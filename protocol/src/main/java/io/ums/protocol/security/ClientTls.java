package io.ums.protocol.security;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.net.PemTrustOptions;

/**
 * Whom a client trusts for {@code https://} URLs: the CA certificates of a PEM file ({@code --ca}), or the
 * JVM's default trust store when none is given. Host names are always verified. Plain {@code http://} URLs
 * are unaffected.
 */
public record ClientTls(Optional<Path> caFile) {
  public static ClientTls jvmDefault() {
    return new ClientTls(Optional.empty());
  }

  public static ClientTls trusting(Path caFile) {
    return new ClientTls(Optional.of(caFile));
  }

  /** Blocking: checks the CA file holds a certificate. */
  public ClientTls verified() throws IOException {
    if (caFile.isPresent()) {
      ServerTls.requirePem(caFile.get(), "CERTIFICATE", "--ca");
    }
    return this;
  }

  /** For Vert.x clients (WebClientOptions is one). */
  public <T extends HttpClientOptions> T applyTo(T options) {
    options.setVerifyHost(true);
    caFile.ifPresent(ca -> options.setTrustOptions(new PemTrustOptions().addCertPath(ca.toString())));
    return options;
  }

  /** For the JDK's blocking HttpClient (bench, demo, tests). Blocking: reads the CA file. */
  public SSLContext sslContext() throws IOException {
    try {
      if (caFile.isEmpty()) {
        return SSLContext.getDefault();
      }
      KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
      trusted.load(null, null);
      try (InputStream in = Files.newInputStream(caFile.get())) {
        int i = 0;
        for (Certificate certificate : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
          trusted.setCertificateEntry("ca-" + i++, certificate);
        }
      }
      TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trust.init(trusted);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, trust.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IOException("CA file " + caFile.orElseThrow() + ": " + e.getMessage(), e);
    }
  }

  /**
   * When a failed connection failed in its TLS handshake, a sentence saying so and what to check (the
   * JDK's own reason included); otherwise empty.
   */
  public static Optional<String> describeFailure(Throwable failure) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      if (cause instanceof SSLException tls) {
        return Optional.of("TLS handshake failed (" + rootMessage(tls) + "); check that the peer's certificate "
            + "is signed by a CA this side trusts (--ca) and names the host or address in the URL");
      }
    }
    return Optional.empty();
  }

  private static String rootMessage(Throwable failure) {
    Throwable root = failure;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message = root.getMessage() != null ? root.getMessage() : failure.getMessage();
    return message != null ? message : root.getClass().getSimpleName();
  }
}
