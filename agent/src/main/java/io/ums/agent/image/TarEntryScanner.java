package io.ums.agent.image;

import io.ums.agent.image.ImageStoreException.Code;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Follows a tar archive as it streams past, chunk by chunk, without holding it: it reads every header, refuses an
 * entry whose name would land outside the image's root, keeps the contents of one small entry it is asked for
 * ({@code config.dump} of a checkpoint archive), and knows whether the archive ended properly (two zero blocks).
 * It understands what Go's archive/tar (the kubelet's runtimes) writes: ustar headers with a prefix, PAX extended
 * headers and GNU long names; sizes in octal or base-256. Not thread-safe; CPU only.
 */
final class TarEntryScanner {
  private static final int BLOCK = 512;
  private static final int MAX_META_BYTES = 1 << 20;

  private final String wanted;
  private final byte[] header = new byte[BLOCK];
  private int headerFill;
  /** Bytes of the current entry's data (and padding) still to pass. */
  private long dataLeft;
  private long paddingLeft;
  /** Where the current entry's data is kept: the wanted entry, a PAX header or a GNU long name. */
  private ByteArrayOutputStream keep;
  private char keptType;
  private String nextName;
  private int zeroBlocks;
  private boolean first = true;
  private byte[] wantedContents;

  TarEntryScanner(String wanted) {
    this.wanted = wanted;
  }

  /** Passes {@code chunk} (its position is left as it was). */
  void accept(ByteBuffer chunk) {
    ByteBuffer in = chunk.duplicate();
    while (in.hasRemaining()) {
      if (dataLeft > 0) {
        int n = (int) Math.min(dataLeft, in.remaining());
        if (keep != null) {
          byte[] bytes = new byte[n];
          in.get(bytes);
          keep.write(bytes, 0, n);
        } else {
          in.position(in.position() + n);
        }
        dataLeft -= n;
        if (dataLeft == 0) {
          entryDataEnded();
        }
      } else if (paddingLeft > 0) {
        int n = (int) Math.min(paddingLeft, in.remaining());
        in.position(in.position() + n);
        paddingLeft -= n;
      } else if (zeroBlocks >= 2) {
        in.position(in.limit()); // what follows the end marker (the writer's record padding) is not read
      } else {
        int n = Math.min(BLOCK - headerFill, in.remaining());
        in.get(header, headerFill, n);
        headerFill += n;
        if (headerFill == BLOCK) {
          headerFill = 0;
          header();
        }
      }
    }
  }

  /** What is left of the current entry's data and padding (0 between entries and in a header block). */
  long entryBytesLeft() {
    return dataLeft + paddingLeft;
  }

  /** How much of the current header block went past (0 at a block's start). */
  int headerFill() {
    return headerFill;
  }

  /**
   * Whether the next byte starts an entry of its own: no header, data or padding half passed, and no PAX or GNU
   * long-name entry waiting for the entry it names.
   */
  boolean betweenEntries() {
    return dataLeft == 0 && paddingLeft == 0 && headerFill == 0 && nextName == null;
  }

  /** Whether the archive's end marker went past and no entry was cut short. */
  boolean ended() {
    return zeroBlocks >= 2 && dataLeft == 0;
  }

  /** The wanted entry's contents, once it went past. */
  Optional<byte[]> wantedContents() {
    return Optional.ofNullable(wantedContents);
  }

  private void header() {
    if (allZero()) {
      zeroBlocks++;
      return;
    }
    if (zeroBlocks > 0) {
      throw invalid("a header after the end-of-archive block");
    }
    if (first && !new String(header, 257, 5, StandardCharsets.US_ASCII).equals("ustar")) {
      throw invalid("not a plain tar archive (compressed? the kubelet writes plain tars)");
    }
    first = false;
    char type = (char) header[156];
    long size = size();
    String name = nextName != null ? nextName : ustarName();
    nextName = null;
    keep = null;
    boolean headerOnly = "12345".indexOf(type) >= 0; // links, devices, directories: no data follows
    long data = headerOnly ? 0 : size;
    if (type == 'x' || type == 'L') {
      if (data > MAX_META_BYTES) {
        throw invalid("an extended header of " + data + " bytes");
      }
      keep = new ByteArrayOutputStream((int) data);
      keptType = type;
    } else if (type != 'g') {
      checkInsideRoot(name);
      if (Path.of(name).normalize().toString().equals(wanted) && data <= MAX_META_BYTES) {
        keep = new ByteArrayOutputStream((int) data);
        keptType = 'W';
      }
    }
    dataLeft = data;
    paddingLeft = (BLOCK - data % BLOCK) % BLOCK;
    if (data == 0) {
      entryDataEnded();
    }
  }

  private void entryDataEnded() {
    if (keep == null) {
      return;
    }
    byte[] bytes = keep.toByteArray();
    keep = null;
    switch (keptType) {
      case 'W' -> wantedContents = bytes;
      case 'L' -> nextName = cString(bytes, 0, bytes.length);
      default -> paxPath(bytes);
    }
  }

  /** PAX records are "<length> <key>=<value>\n"; only the path matters here. */
  private void paxPath(byte[] records) {
    String text = new String(records, StandardCharsets.UTF_8);
    int at = 0;
    while (at < text.length()) {
      int space = text.indexOf(' ', at);
      if (space < 0) {
        throw invalid("a malformed PAX header");
      }
      int length;
      try {
        length = Integer.parseInt(text.substring(at, space));
      } catch (NumberFormatException e) {
        throw invalid("a malformed PAX header");
      }
      if (length <= space - at || at + length > text.length()) {
        throw invalid("a malformed PAX header");
      }
      String record = text.substring(space + 1, at + length - 1);
      if (record.startsWith("path=")) {
        nextName = record.substring(5);
      }
      at += length;
    }
  }

  private String ustarName() {
    String name = cString(header, 0, 100);
    String prefix = new String(header, 257, 6, StandardCharsets.US_ASCII).startsWith("ustar")
        ? cString(header, 345, 155) : "";
    return prefix.isEmpty() ? name : prefix + "/" + name;
  }

  private long size() {
    if ((header[124] & 0x80) != 0) { // base-256, for sizes beyond the octal field
      long value = 0;
      for (int i = 125; i < 136; i++) {
        value = (value << 8) | (header[i] & 0xff);
      }
      return value;
    }
    String octal = cString(header, 124, 12).trim();
    try {
      return octal.isEmpty() ? 0 : Long.parseLong(octal, 8);
    } catch (NumberFormatException e) {
      throw invalid("an entry size that is not a number");
    }
  }

  private boolean allZero() {
    for (byte b : header) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }

  private static void checkInsideRoot(String name) {
    if (name.startsWith("/") || Path.of(name).normalize().startsWith("..")) {
      throw new ImageStoreException(Code.INVALID, "checkpoint archive entry escapes the root: " + name);
    }
  }

  private static String cString(byte[] bytes, int offset, int length) {
    int end = offset;
    while (end < offset + length && bytes[end] != 0) {
      end++;
    }
    return new String(bytes, offset, end - offset, StandardCharsets.UTF_8);
  }

  private static ImageStoreException invalid(String what) {
    return new ImageStoreException(Code.INVALID, "checkpoint archive: " + what);
  }
}
