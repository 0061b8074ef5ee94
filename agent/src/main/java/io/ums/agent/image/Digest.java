package io.ums.agent.image;

import java.nio.file.Path;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** A content address, {@code sha256:<64 hex>}: the identity of a blob (layer, manifest, config) in the store. */
public record Digest(String hex) {
  private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");
  public static final String ALGORITHM = "sha256";

  public Digest {
    if (!HEX.matcher(hex).matches()) {
      throw new IllegalArgumentException("not a sha256 hex digest: " + hex);
    }
  }

  /** Parses {@code sha256:<hex>}. */
  public static Digest parse(String text) {
    if (text == null || !text.startsWith(ALGORITHM + ":")) {
      throw new IllegalArgumentException("digest must look like sha256:<64 hex digits>: " + text);
    }
    return new Digest(text.substring(ALGORITHM.length() + 1));
  }

  public static Digest of(byte[] sha256) {
    return new Digest(HexFormat.of().formatHex(sha256));
  }

  /** Where the blob lives under an OCI layout root. */
  public Path blobPath(Path layoutRoot) {
    return layoutRoot.resolve("blobs").resolve(ALGORITHM).resolve(hex);
  }

  @Override
  public String toString() {
    return ALGORITHM + ":" + hex;
  }
}
