package io.ums.agent.criu;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The memory a {@code criu dump --lazy-pages} left behind, per task: the {@code PE_LAZY} entries of its
 * {@code pagemap-<pid>.img} files. Those are exactly the ranges its lazy page server can serve (asking it
 * for anything else ends its session), so a destination may ask for them ahead of the daemon.
 *
 * <p>Image layout (criu/image.c, images/pagemap.proto): two little-endian u32 magics, then entries of a
 * u32 size and a protobuf message; the first is {@code pagemap_head}, then one {@code pagemap_entry}
 * (vaddr = 1, compat_nr_pages = 2, in_parent = 3, flags = 4, nr_pages = 5) per range.
 */
public final class LazyPagemap {
  public static final long PAGE = 4096;
  static final int IMG_COMMON_MAGIC = 0x54564319;
  static final int PAGEMAP_MAGIC = 0x56084025;
  static final int PE_LAZY = 1 << 1;
  private static final Pattern FILE = Pattern.compile("pagemap-(\\d+)\\.img");

  /** A lazy range of task {@code pid}'s memory, [start, end) in bytes. */
  public record Range(long pid, long start, long end) {
    public long pages() {
      return (end - start) / PAGE;
    }
  }

  private final Map<Long, List<Range>> byPid;

  private LazyPagemap(Map<Long, List<Range>> byPid) {
    this.byPid = byPid;
  }

  /** A pagemap of the given ranges (tests, and callers that learnt them elsewhere). */
  public static LazyPagemap of(List<Range> ranges) {
    Map<Long, List<Range>> byPid = new TreeMap<>();
    ranges.forEach(range -> byPid.computeIfAbsent(range.pid(), pid -> new ArrayList<>()).add(range));
    byPid.values().forEach(list -> list.sort((a, b) -> Long.compareUnsigned(a.start(), b.start())));
    return new LazyPagemap(byPid);
  }

  public static LazyPagemap empty() {
    return new LazyPagemap(new TreeMap<>());
  }

  /** Reads every {@code pagemap-<pid>.img} of {@code imagesDir}. Blocking. */
  public static LazyPagemap read(Path imagesDir) throws IOException {
    Map<Long, List<Range>> byPid = new TreeMap<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(imagesDir, "pagemap-*.img")) {
      for (Path file : files) {
        Matcher name = FILE.matcher(file.getFileName().toString());
        if (name.matches()) {
          long pid = Long.parseLong(name.group(1));
          List<Range> ranges = parse(pid, Files.readAllBytes(file));
          if (!ranges.isEmpty()) {
            byPid.put(pid, ranges);
          }
        }
      }
    }
    return new LazyPagemap(byPid);
  }

  static List<Range> parse(long pid, byte[] image) throws IOException {
    ByteBuffer in = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
    if (in.remaining() < 8 || in.getInt() != IMG_COMMON_MAGIC || in.getInt() != PAGEMAP_MAGIC) {
      throw new IOException("pagemap-" + pid + ".img is not a CRIU pagemap image");
    }
    List<Range> ranges = new ArrayList<>();
    boolean head = true;
    while (in.remaining() >= 4) {
      int size = in.getInt();
      if (size < 0 || size > in.remaining()) {
        throw new IOException("pagemap-" + pid + ".img: truncated entry");
      }
      ByteBuffer message = in.slice(in.position(), size).order(ByteOrder.LITTLE_ENDIAN);
      in.position(in.position() + size);
      if (head) {
        head = false;
        continue;
      }
      Range range = entry(pid, message);
      if (range != null) {
        ranges.add(range);
      }
    }
    ranges.sort((a, b) -> Long.compareUnsigned(a.start(), b.start()));
    return ranges;
  }

  private static Range entry(long pid, ByteBuffer message) throws IOException {
    long vaddr = 0;
    long pages = 0;
    long flags = 0;
    while (message.hasRemaining()) {
      long key = varint(message);
      int field = (int) (key >>> 3);
      switch ((int) (key & 7)) {
        case 0 -> {
          long value = varint(message);
          switch (field) {
            case 1 -> vaddr = value;
            case 2 -> pages = pages == 0 ? value : pages;
            case 4 -> flags = value;
            case 5 -> pages = value;
            default -> { }
          }
        }
        case 1 -> message.position(message.position() + 8);
        case 2 -> message.position(message.position() + (int) varint(message));
        case 5 -> message.position(message.position() + 4);
        default -> throw new IOException("pagemap entry: unknown wire type in key " + key);
      }
    }
    return (flags & PE_LAZY) == 0 || pages == 0 ? null : new Range(pid, vaddr, vaddr + pages * PAGE);
  }

  private static long varint(ByteBuffer in) throws IOException {
    long value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!in.hasRemaining()) {
        throw new IOException("pagemap entry: truncated varint");
      }
      byte b = in.get();
      value |= (long) (b & 0x7f) << shift;
      if (b >= 0) {
        return value;
      }
    }
    throw new IOException("pagemap entry: varint too long");
  }

  /** Tasks with lazy memory, in ascending PID order (the restore's, so the daemon's, usual order). */
  public Map<Long, List<Range>> byPid() {
    return Collections.unmodifiableMap(byPid);
  }

  public long bytes() {
    return byPid.values().stream().flatMap(List::stream).mapToLong(r -> r.end() - r.start()).sum();
  }
}
