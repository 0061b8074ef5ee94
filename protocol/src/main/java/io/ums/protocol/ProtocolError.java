package io.ums.protocol;

/** Every error the UMS protocol can report, with its wire code (see PROTOCOL.md, section 3). */
public enum ProtocolError {
  FRAME_TOO_LARGE(1, "frame payload above the receiver's maximum frame size"),
  BAD_MAGIC(2, "the connection did not start with the UMS magic"),
  VERSION_MISMATCH(3, "the peer speaks another protocol version"),
  AUTH_FAILED(4, "unknown session or wrong authentication proof"),
  NOT_AUTHENTICATED(5, "frame received before the handshake completed"),
  UNKNOWN_FRAME_TYPE(6, "unknown frame type"),
  UNKNOWN_CHANNEL(7, "frame for a channel that was never opened"),
  CHANNEL_LIMIT(8, "too many open channels"),
  METADATA_TOO_LARGE(9, "channel metadata above the limit"),
  FLOW_CONTROL_VIOLATION(10, "data beyond the granted credit"),
  CHECKSUM_MISMATCH(11, "CRC-32C mismatch"),
  LENGTH_MISMATCH(12, "channel length differs from the announced total"),
  CHANNEL_RESET(13, "the channel was aborted"),
  IDLE_TIMEOUT(14, "nothing received within the idle timeout"),
  CONNECTION_LOST(15, "the connection closed"),
  COMPRESSION_ERROR(16, "compressed block corrupt or codec not negotiated"),
  CANCELLED(17, "cancelled by the application"),
  INTERNAL(18, "internal error"),
  MALFORMED_FRAME(19, "frame does not match its layout"),
  GOING_AWAY(20, "the peer is going away and accepts no new channels"),
  TLS_REQUIRED(21, "the session accepts only an encrypted (TLS) connection");

  private static final ProtocolError[] BY_CODE = new ProtocolError[22];

  static {
    for (ProtocolError error : values()) {
      BY_CODE[error.code] = error;
    }
  }

  private final int code;
  private final String meaning;

  ProtocolError(int code, String meaning) {
    this.code = code;
    this.meaning = meaning;
  }

  public int code() {
    return code;
  }

  public String meaning() {
    return meaning;
  }

  /** The error for a wire code; an unknown code reads as {@link #INTERNAL}. */
  public static ProtocolError fromCode(int code) {
    return code > 0 && code < BY_CODE.length && BY_CODE[code] != null ? BY_CODE[code] : INTERNAL;
  }
}
