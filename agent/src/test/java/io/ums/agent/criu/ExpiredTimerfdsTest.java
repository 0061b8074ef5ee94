package io.ums.agent.criu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** files.img as criu/image.c writes it, with timerfd entries as criu/timerfd.c dumps them. */
class ExpiredTimerfdsTest {
  private static final int FILES_MAGIC = 0x56303138;

  @TempDir
  Path dir;

  @Test
  void aPeriodicTimerDumpedExpiredGetsOnePeriodAndTheRestIsUntouched() throws Exception {
    byte[] regular = fileEntry(1, 3, new byte[] {8, 7, 0x10, 0x2a});
    byte[] expired = fileEntry(11, 12, timerfd(0, 0, 0, 0, 10_000_000, 1));
    byte[] running = fileEntry(11, 12, timerfd(0, 0, 7_141_086, 0, 10_000_000, 0));
    byte[] absolute = fileEntry(11, 12, timerfd(1, 0, 0, 0, 10_000_000, 0));
    byte[] oneShot = fileEntry(11, 12, timerfd(0, 0, 0, 0, 0, 1));
    Files.write(dir.resolve("files.img"), image(regular, expired, running, absolute, oneShot));

    assertThat(ExpiredTimerfds.rearm(dir)).isEqualTo(1);

    List<byte[]> entries = entries(Files.readAllBytes(dir.resolve("files.img")));
    assertThat(entries).hasSize(5);
    assertThat(entries.get(0)).isEqualTo(regular);
    Map<Integer, Long> rearmed = timerFields(entries.get(1));
    assertThat(rearmed).containsEntry(7, 0L).containsEntry(8, 10_000_000L).containsEntry(9, 0L)
        .containsEntry(10, 10_000_000L).containsEntry(5, 1L).containsEntry(1, 42L);
    assertThat(entries.get(2)).isEqualTo(running);
    assertThat(entries.get(3)).isEqualTo(absolute);
    assertThat(entries.get(4)).isEqualTo(oneShot);
    // a second pass finds nothing left to do
    assertThat(ExpiredTimerfds.rearm(dir)).isZero();
  }

  @Test
  void imagesWithoutFilesImageAreLeftAlone() throws Exception {
    assertThat(ExpiredTimerfds.rearm(dir)).isZero();
  }

  private static byte[] timerfd(long flags, long valueSeconds, long valueNanos, long intervalSeconds,
                                long intervalNanos, long ticks) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    field(out, 1, 42);
    field(out, 2, 2);
    out.write(3 << 3 | 2);
    out.write(4);
    out.writeBytes(new byte[] {8, 0, 0x10, 0});
    field(out, 4, 1);
    field(out, 5, ticks);
    field(out, 6, flags);
    field(out, 7, valueSeconds);
    field(out, 8, valueNanos);
    field(out, 9, intervalSeconds);
    field(out, 10, intervalNanos);
    return out.toByteArray();
  }

  private static byte[] fileEntry(int type, int field, byte[] payload) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    field(out, 1, type);
    field(out, 2, 42);
    varint(out, (long) field << 3 | 2);
    varint(out, payload.length);
    out.writeBytes(payload);
    return out.toByteArray();
  }

  private static byte[] image(byte[]... entries) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteBuffer header = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    header.putInt(LazyPagemap.IMG_COMMON_MAGIC).putInt(FILES_MAGIC);
    out.writeBytes(header.array());
    for (byte[] entry : entries) {
      out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(entry.length).array());
      out.writeBytes(entry);
    }
    return out.toByteArray();
  }

  private static List<byte[]> entries(byte[] image) {
    ByteBuffer in = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
    assertThat(in.getInt()).isEqualTo(LazyPagemap.IMG_COMMON_MAGIC);
    assertThat(in.getInt()).isEqualTo(FILES_MAGIC);
    List<byte[]> entries = new ArrayList<>();
    while (in.hasRemaining()) {
      byte[] entry = new byte[in.getInt()];
      in.get(entry);
      entries.add(entry);
    }
    return entries;
  }

  /** The varint fields of the timerfd_entry (field 12) inside a file_entry, by number (the last wins). */
  private static Map<Integer, Long> timerFields(byte[] fileEntry) {
    ByteBuffer in = ByteBuffer.wrap(fileEntry);
    Map<Integer, Long> fields = new LinkedHashMap<>();
    while (in.hasRemaining()) {
      long key = varint(in);
      if ((key & 7) == 0) {
        varint(in);
        continue;
      }
      byte[] payload = new byte[(int) varint(in)];
      in.get(payload);
      if (key >>> 3 == 12) {
        ByteBuffer timer = ByteBuffer.wrap(payload);
        while (timer.hasRemaining()) {
          long timerKey = varint(timer);
          if ((timerKey & 7) == 2) {
            int length = (int) varint(timer);
            timer.position(timer.position() + length);
          } else {
            fields.put((int) (timerKey >>> 3), varint(timer));
          }
        }
      }
    }
    return fields;
  }

  private static void field(ByteArrayOutputStream out, int number, long value) {
    varint(out, (long) number << 3);
    varint(out, value);
  }

  private static void varint(ByteArrayOutputStream out, long value) {
    while ((value & ~0x7fL) != 0) {
      out.write((int) (value & 0x7f) | 0x80);
      value >>>= 7;
    }
    out.write((int) value);
  }

  private static long varint(ByteBuffer in) {
    long value = 0;
    for (int shift = 0; ; shift += 7) {
      byte b = in.get();
      value |= (long) (b & 0x7f) << shift;
      if (b >= 0) {
        return value;
      }
    }
  }
}
