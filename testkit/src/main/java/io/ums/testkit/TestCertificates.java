package io.ums.testkit;

import io.ums.host.HostCommand;
import io.ums.protocol.security.ServerTls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A throw-away certificate authority for tests and local runs, made with the openssl CLI: a CA, and server
 * certificates it signs for the IP addresses a test's servers listen on (Java verifies an https:// URL with
 * an address against the certificate's IP subject alternative names). Blocking: test and bench set-up only.
 */
public final class TestCertificates {
  private final Path dir;
  private final Path caCert;
  private final Path caKey;

  private TestCertificates(Path dir) {
    this.dir = dir;
    this.caCert = dir.resolve("ca.crt");
    this.caKey = dir.resolve("ca.key");
  }

  /** A new CA in {@code dir} (created when missing). */
  public static TestCertificates authority(Path dir, String name) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    TestCertificates pki = new TestCertificates(dir);
    HostCommand.check("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "2", "-subj", "/CN=" + name, "-keyout", pki.caKey.toString(),
        "-out", pki.caCert.toString(), "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    return pki;
  }

  /** The CA certificate (PEM): what a client's --ca names. */
  public Path caCertificate() {
    return caCert;
  }

  /** A server certificate and key signed by this CA, valid for the given IP addresses. */
  public ServerTls server(String name, List<String> ipAddresses) {
    Path key = dir.resolve(name + ".key");
    Path request = dir.resolve(name + ".csr");
    Path cert = dir.resolve(name + ".crt");
    Path extensions = dir.resolve(name + ".ext");
    String altNames = ipAddresses.stream().map(ip -> "IP:" + ip).collect(Collectors.joining(","));
    try {
      Files.writeString(extensions, "subjectAltName=" + altNames + "\nextendedKeyUsage=serverAuth\n"
          + "basicConstraints=CA:FALSE\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    HostCommand.check("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/CN=" + name, "-keyout", key.toString(), "-out", request.toString());
    HostCommand.check("openssl", "x509", "-req", "-in", request.toString(), "-CA", caCert.toString(),
        "-CAkey", caKey.toString(), "-CAcreateserial", "-days", "2", "-extfile", extensions.toString(),
        "-out", cert.toString());
    return new ServerTls(cert, key);
  }
}
