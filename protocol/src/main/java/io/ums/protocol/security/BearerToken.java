package io.ums.protocol.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * A shared secret sent as {@code Authorization: Bearer <token>}. Read once from a file (surrounding white
 * space dropped, as a Kubernetes Secret or {@code echo} leaves a newline), compared in constant time, and
 * never printed: {@link #toString()} is redacted so a log line or an exception cannot leak it.
 */
public final class BearerToken {
  private static final String SCHEME = "Bearer ";
  private static final int RANDOM_BYTES = 32;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final String value;
  private final byte[] digest;

  private BearerToken(String value) {
    if (value.isEmpty() || !value.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      throw new IllegalArgumentException("a token must be non-empty printable ASCII without spaces");
    }
    this.value = value;
    this.digest = sha256(value);
  }

  public static BearerToken of(String value) {
    return new BearerToken(value.strip());
  }

  /**
   * Blocking: read at start-up, before any server listens. The message names the flag and the file, never
   * the content.
   */
  public static BearerToken fromFile(String flag, Path file) throws IOException {
    String content;
    try {
      content = Files.readString(file, StandardCharsets.US_ASCII).strip();
    } catch (IOException e) {
      throw new IOException(flag + " " + file + " cannot be read: " + e.getClass().getSimpleName(), e);
    }
    try {
      return new BearerToken(content);
    } catch (IllegalArgumentException e) {
      throw new IOException(flag + " " + file + ": " + e.getMessage());
    }
  }

  /** 256 random bits, URL-safe base64: what local mode uses for one run. */
  public static BearerToken random() {
    byte[] bytes = new byte[RANDOM_BYTES];
    RANDOM.nextBytes(bytes);
    return new BearerToken(Base64.getUrlEncoder().withoutPadding().encodeToString(bytes));
  }

  /** Blocking: writes the token to a new file only its owner can read (for handing it to a child process). */
  public Path writeTo(Path file) throws IOException {
    Files.deleteIfExists(file);
    Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    return Files.writeString(file, value + "\n", StandardCharsets.US_ASCII);
  }

  /** The value of an {@code Authorization} header carrying this token. */
  public String authorization() {
    return SCHEME + value;
  }

  /** The raw secret, for clients that set the header themselves. */
  public String value() {
    return value;
  }

  /**
   * Whether an {@code Authorization} header carries this token. Both sides are hashed first, so the
   * comparison takes the same time whatever the length or the first differing byte of the candidate.
   */
  public boolean matches(String authorizationHeader) {
    if (authorizationHeader == null || authorizationHeader.length() < SCHEME.length()
        || !authorizationHeader.regionMatches(true, 0, SCHEME, 0, SCHEME.length())) {
      return false;
    }
    return MessageDigest.isEqual(digest, sha256(authorizationHeader.substring(SCHEME.length()).strip()));
  }

  @Override
  public String toString() {
    return "BearerToken[redacted]";
  }

  private static byte[] sha256(String text) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }
}
