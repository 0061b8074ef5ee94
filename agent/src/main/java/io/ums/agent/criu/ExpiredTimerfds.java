package io.ums.agent.criu;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Re-arms, in a checkpoint's {@code files.img}, the periodic timerfds CRIU would restore disarmed.
 *
 * <p>A periodic timerfd whose expiry passed while the task was frozen (always, for a period shorter than the
 * freeze) stops until the program reads it, which the kernel then re-arms. CRIU dumps such a timer with a
 * remaining time of zero ({@code it_value (0, 0)}) and restores it with {@code timerfd_settime}, for which a
 * zero value means "disarm": the restored program gets the pending tick, then its next read blocks forever
 * (checkpoint-restore/criu#3162; seen with a Python program counting a 10 ms timerfd: its count stopped at
 * the migration while its other timers went on). Such an entry gets one period as its remaining time: the
 * timer goes on at its period, never firing more often than the program asked. Absolute timers are left
 * alone (CRIU re-anchors them, and a past expiry fires at once).
 *
 * <p>Layout (criu/image.c, images/fdinfo.proto, images/timerfd.proto): two little-endian u32 magics, then
 * entries of a u32 size and a protobuf {@code file_entry}; its field 12 is a {@code timerfd_entry} with
 * settime_flags = 6, it_value = (7, 8), it_interval = (9, 10).
 */
public final class ExpiredTimerfds {
  static final String FILES_IMAGE = "files.img";
  private static final int FILE_ENTRY_TIMERFD = 12;
  private static final int SETTIME_FLAGS = 6;
  private static final int VALUE_SECONDS = 7;
  private static final int VALUE_NANOS = 8;
  private static final int INTERVAL_SECONDS = 9;
  private static final int INTERVAL_NANOS = 10;
  private static final long TFD_TIMER_ABSTIME = 1;

  private static final Logger LOG = LoggerFactory.getLogger(ExpiredTimerfds.class);

  private ExpiredTimerfds() {}

  /**
   * {@link #rearm} before a restore: logs what it did; an image it cannot read is left for CRIU to judge.
   * Blocking.
   */
  public static void rearmBeforeRestore(Path imagesDir) {
    try {
      int rearmed = rearm(imagesDir);
      if (rearmed > 0) {
        LOG.info("re-armed {} periodic timerfd(s) CRIU dumped as expired, in {}", rearmed, imagesDir);
      }
    } catch (IOException e) {
      LOG.warn("could not check the timerfds of {}: {}", imagesDir, e.getMessage());
    }
  }

  /** Rewrites {@code files.img} of {@code imagesDir} if it holds such timers; how many it re-armed. Blocking. */
  public static int rearm(Path imagesDir) throws IOException {
    Path image = imagesDir.resolve(FILES_IMAGE);
    if (!Files.isRegularFile(image)) {
      return 0;
    }
    int[] rearmed = {0};
    byte[] rewritten = rewrite(Files.readAllBytes(image), rearmed);
    if (rearmed[0] > 0) {
      Path next = imagesDir.resolve(FILES_IMAGE + ".rearmed");
      Files.write(next, rewritten);
      Files.move(next, image, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
    return rearmed[0];
  }

  /** The image with every disarmed-by-restore timer re-armed; counts them in {@code rearmed[0]}. */
  static byte[] rewrite(byte[] image, int[] rearmed) throws IOException {
    ByteBuffer in = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
    if (in.remaining() < 8) {
      throw new IOException(FILES_IMAGE + " is not a CRIU image");
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(image.length + 64);
    out.write(image, 0, 8);
    in.position(8);
    while (in.remaining() >= 4) {
      int size = in.getInt();
      if (size < 0 || size > in.remaining()) {
        throw new IOException(FILES_IMAGE + ": truncated entry");
      }
      byte[] entry = new byte[size];
      in.get(entry);
      byte[] fixed = fileEntry(entry, rearmed);
      out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(fixed.length).array(), 0, 4);
      out.write(fixed, 0, fixed.length);
    }
    if (in.hasRemaining()) {
      throw new IOException(FILES_IMAGE + ": trailing bytes");
    }
    return out.toByteArray();
  }

  private static byte[] fileEntry(byte[] entry, int[] rearmed) throws IOException {
    List<Field> fields = Field.parse(entry);
    for (int i = 0; i < fields.size(); i++) {
      Field field = fields.get(i);
      if (field.number() == FILE_ENTRY_TIMERFD && field.wireType() == 2) {
        byte[] timer = field.payload(entry);
        byte[] fixed = timerfd(timer);
        if (fixed != timer) {
          rearmed[0]++;
          ByteArrayOutputStream out = new ByteArrayOutputStream(entry.length + 16);
          for (Field other : fields) {
            if (other != field) {
              out.write(entry, other.start(), other.end() - other.start());
            }
          }
          varint(out, ((long) FILE_ENTRY_TIMERFD << 3) | 2);
          varint(out, fixed.length);
          out.write(fixed, 0, fixed.length);
          return out.toByteArray();
        }
      }
    }
    return entry;
  }

  /** The timer's entry with one period as its remaining time, or {@code timer} itself when it needs none. */
  private static byte[] timerfd(byte[] timer) throws IOException {
    List<Field> fields = Field.parse(timer);
    long flags = 0;
    long valueSeconds = 0;
    long valueNanos = 0;
    long intervalSeconds = 0;
    long intervalNanos = 0;
    for (Field field : fields) {
      switch (field.number()) {
        case SETTIME_FLAGS -> flags = field.varint();
        case VALUE_SECONDS -> valueSeconds = field.varint();
        case VALUE_NANOS -> valueNanos = field.varint();
        case INTERVAL_SECONDS -> intervalSeconds = field.varint();
        case INTERVAL_NANOS -> intervalNanos = field.varint();
        default -> { }
      }
    }
    boolean periodic = intervalSeconds != 0 || intervalNanos != 0;
    if (!periodic || valueSeconds != 0 || valueNanos != 0 || (flags & TFD_TIMER_ABSTIME) != 0) {
      return timer;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(timer.length + 16);
    for (Field field : fields) {
      if (field.number() != VALUE_SECONDS && field.number() != VALUE_NANOS) {
        out.write(timer, field.start(), field.end() - field.start());
      }
    }
    varint(out, (long) VALUE_SECONDS << 3);
    varint(out, intervalSeconds);
    varint(out, (long) VALUE_NANOS << 3);
    varint(out, intervalNanos);
    return out.toByteArray();
  }

  private static void varint(ByteArrayOutputStream out, long value) {
    while ((value & ~0x7fL) != 0) {
      out.write((int) (value & 0x7f) | 0x80);
      value >>>= 7;
    }
    out.write((int) value);
  }

  /**
   * One protobuf field of a message: its number, wire type, its bytes [start, end) (key included), where its
   * value starts, and for a varint the value.
   */
  private record Field(int number, int wireType, int start, int valueStart, int end, long varint) {
    byte[] payload(byte[] message) throws IOException {
      ByteBuffer in = ByteBuffer.wrap(message, valueStart, end - valueStart);
      int length = (int) readVarint(in);
      return java.util.Arrays.copyOfRange(message, in.position(), in.position() + length);
    }

    static List<Field> parse(byte[] message) throws IOException {
      List<Field> fields = new ArrayList<>();
      ByteBuffer in = ByteBuffer.wrap(message);
      while (in.hasRemaining()) {
        int start = in.position();
        long key = readVarint(in);
        int valueStart = in.position();
        long value = 0;
        switch ((int) (key & 7)) {
          case 0 -> value = readVarint(in);
          case 1 -> skip(in, 8);
          case 2 -> skip(in, readVarint(in));
          case 5 -> skip(in, 4);
          default -> throw new IOException(FILES_IMAGE + ": unknown wire type in key " + key);
        }
        fields.add(new Field((int) (key >>> 3), (int) (key & 7), start, valueStart, in.position(), value));
      }
      return fields;
    }

    private static void skip(ByteBuffer in, long bytes) throws IOException {
      if (bytes < 0 || bytes > in.remaining()) {
        throw new IOException(FILES_IMAGE + ": truncated field");
      }
      in.position(in.position() + (int) bytes);
    }

    private static long readVarint(ByteBuffer in) throws IOException {
      long value = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        if (!in.hasRemaining()) {
          throw new IOException(FILES_IMAGE + ": truncated varint");
        }
        byte b = in.get();
        value |= (long) (b & 0x7f) << shift;
        if (b >= 0) {
          return value;
        }
      }
      throw new IOException(FILES_IMAGE + ": varint too long");
    }
  }
}
