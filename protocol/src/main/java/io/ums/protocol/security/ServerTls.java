package io.ums.protocol.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.PemKeyCertOptions;

/**
 * The certificate chain and private key (PEM) a server presents: {@code --tls-cert} and {@code --tls-key}.
 * Both files are read once at start-up (blocking is fine then) so that a wrong path or a swapped
 * certificate and key fail the start with a message, not the first handshake.
 */
public record ServerTls(Path certificate, Path privateKey) {
  /** Empty when neither flag is given; both or neither, else the message says which one is missing. */
  public static Optional<ServerTls> fromFlags(Path certificate, Path privateKey) {
    if (certificate == null && privateKey == null) {
      return Optional.empty();
    }
    if (certificate == null || privateKey == null) {
      throw new IllegalArgumentException("--tls-cert and --tls-key go together (got only "
          + (certificate == null ? "--tls-key" : "--tls-cert") + ")");
    }
    return Optional.of(new ServerTls(certificate, privateKey));
  }

  /** Blocking: checks both files hold what they should. */
  public ServerTls verified() throws IOException {
    requirePem(certificate, "CERTIFICATE", "--tls-cert");
    requirePem(privateKey, "PRIVATE KEY", "--tls-key");
    return this;
  }

  /** Turns TLS on for a server with these files. */
  public HttpServerOptions applyTo(HttpServerOptions options) {
    return options.setSsl(true).setKeyCertOptions(new PemKeyCertOptions()
        .setCertPath(certificate.toString()).setKeyPath(privateKey.toString()));
  }

  static void requirePem(Path file, String block, String flag) throws IOException {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new IOException(flag + " " + file + " cannot be read: " + e.getMessage(), e);
    }
    if (!text.contains("-----BEGIN ") || !text.contains(block + "-----")) {
      throw new IOException(flag + " " + file + " holds no PEM " + block);
    }
  }
}
