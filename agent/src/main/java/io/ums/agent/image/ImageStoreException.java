package io.ums.agent.image;

/** A refused or failed store operation, with a code the API maps to an HTTP status. */
public final class ImageStoreException extends RuntimeException {
  public enum Code {
    /** The image or blob is not in the store (404). */
    NOT_FOUND,
    /** Bad name, bad tarball, unknown base (400). */
    INVALID,
    /** The image name is taken (409). */
    ALREADY_EXISTS,
    /** A blob's bytes do not hash to the digest it was announced with: a hard error (422). */
    DIGEST_MISMATCH,
    /** The image is used by a running container (409). */
    IN_USE,
    /** A checkpoint image cannot be retired: the image it was taken from is not in the store (409). */
    BASE_MISSING,
    /** The store cannot do what was asked of it (501). */
    UNSUPPORTED,
    /** The container runtime the image goes to is not reachable, e.g. its socket is missing (503). */
    RUNTIME_UNAVAILABLE,
    /** Disk or tar failure (500). */
    IO
  }

  private final Code code;

  public ImageStoreException(Code code, String message) {
    super(message);
    this.code = code;
  }

  public ImageStoreException(Code code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public Code code() {
    return code;
  }
}
