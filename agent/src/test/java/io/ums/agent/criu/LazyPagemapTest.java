package io.ums.agent.criu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ums.agent.criu.LazyPagemap.Range;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** pagemap-<pid>.img files as criu/image.c writes them (magics, then size-prefixed protobuf entries). */
class LazyPagemapTest {
  private static void varint(ByteArrayOutputStream out, long value) {
    while ((value & ~0x7fL) != 0) {
      out.write((int) (value & 0x7f) | 0x80);
      value >>>= 7;
    }
    out.write((int) value);
  }

  private static byte[] entry(long vaddr, long pages, int flags, boolean wideCount) {
    ByteArrayOutputStream message = new ByteArrayOutputStream();
    varint(message, 1 << 3);
    varint(message, vaddr);
    varint(message, 2 << 3);
    varint(message, wideCount ? 0 : pages);
    varint(message, 4 << 3);
    varint(message, flags);
    if (wideCount) {
      varint(message, 5 << 3);
      varint(message, pages);
    }
    return message.toByteArray();
  }

  private static byte[] image(byte[]... entries) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteBuffer magics = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
        .putInt(LazyPagemap.IMG_COMMON_MAGIC).putInt(LazyPagemap.PAGEMAP_MAGIC);
    out.writeBytes(magics.array());
    byte[] head = {0x08, 0x01}; // pagemap_head { pages_id: 1 }
    for (byte[] message : concat(head, entries)) {
      out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(message.length).array());
      out.writeBytes(message);
    }
    return out.toByteArray();
  }

  private static byte[][] concat(byte[] first, byte[][] rest) {
    byte[][] all = new byte[rest.length + 1][];
    all[0] = first;
    System.arraycopy(rest, 0, all, 1, rest.length);
    return all;
  }

  @Test
  void readsOnlyTheLazyEntriesOfEveryTask(@TempDir Path images) throws IOException {
    int lazy = LazyPagemap.PE_LAZY;
    int present = 1 << 2;
    Files.write(images.resolve("pagemap-1.img"), image(
        entry(0x7f0000200000L, 16, lazy, false),
        entry(0x400000L, 2, present, false),
        entry(0x7f0000000000L, 300_000, lazy, true)));
    Files.write(images.resolve("pagemap-7.img"), image(entry(0x600000L, 1, present, false)));
    Files.write(images.resolve("pagemap-shmem-12.img"), image(entry(0x0, 5, lazy, false)));
    Files.write(images.resolve("pages-1.img"), new byte[100]);

    LazyPagemap pagemap = LazyPagemap.read(images);

    assertThat(pagemap.byPid()).containsOnlyKeys(1L);
    assertThat(pagemap.byPid().get(1L)).containsExactly(
        new Range(1, 0x7f0000000000L, 0x7f0000000000L + 300_000L * 4096),
        new Range(1, 0x7f0000200000L, 0x7f0000200000L + 16 * 4096));
    assertThat(pagemap.bytes()).isEqualTo((300_000L + 16) * 4096);
  }

  @Test
  void aFileThatIsNotAPagemapIsAnError(@TempDir Path images) throws IOException {
    Files.write(images.resolve("pagemap-3.img"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
    assertThatThrownBy(() -> LazyPagemap.read(images)).isInstanceOf(IOException.class)
        .hasMessageContaining("pagemap-3.img");
  }
}
