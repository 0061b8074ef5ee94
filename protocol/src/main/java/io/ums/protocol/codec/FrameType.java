package io.ums.protocol.codec;

/** Wire constants of the frame layout (PROTOCOL.md, section 1 and 2). */
public final class FrameType {
  public static final int MAGIC = 0x554D5350; // "UMSP"
  public static final int VERSION = 1;
  public static final int HEADER_SIZE = 12;
  public static final int NONCE_SIZE = 32;
  public static final int PROOF_SIZE = 32;
  public static final int MAX_MESSAGE_BYTES = 1024;

  public static final int HELLO = 0x01;
  public static final int CHALLENGE = 0x02;
  public static final int AUTH = 0x03;
  public static final int ACCEPT = 0x04;
  public static final int OPEN = 0x10;
  public static final int DATA = 0x11;
  public static final int CREDIT = 0x12;
  public static final int CLOSE = 0x13;
  public static final int CLOSE_ACK = 0x14;
  public static final int RESET = 0x15;
  public static final int PING = 0x20;
  public static final int PONG = 0x21;
  public static final int GOAWAY = 0x22;
  public static final int ERROR = 0x23;

  /** OPEN: the sender may compress this channel. DATA: the payload is an LZ4 block. */
  public static final int FLAG_COMPRESSED = 0x01;

  /** DATA payload bytes before the channel bytes: crc32c, plus uncompressedLength when LZ4. */
  public static final int DATA_PREFIX_RAW = 4;
  public static final int DATA_PREFIX_LZ4 = 8;

  private FrameType() {}

  public static boolean isChannelFrame(int type) {
    return type >= OPEN && type <= RESET;
  }
}
