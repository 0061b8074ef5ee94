package io.ums.agent.dataplane;

import io.ums.agent.criu.LazyPagemap;
import io.ums.agent.criu.LazyPagemap.Range;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The destination's read-ahead of a post-copy: which lazy ranges to ask the source's page server for
 * before the {@code criu lazy-pages} daemon does, and the pages that arrived but that the daemon has not
 * taken yet. The daemon keeps one background request (at most 4 MiB) outstanding, so on its own every
 * chunk costs a round trip through both agents; asked ahead, its requests are answered here.
 *
 * <p>Bounded: what is asked for and not yet taken by the daemon stays within {@code windowBytes}. The
 * read-ahead follows the task the daemon is working on (its last background request) and walks its lazy
 * ranges upwards, as the daemon does. A range the daemon asks for itself (a fault, or read-ahead that
 * went elsewhere) leaves the plan, so no page is asked for twice. Lives on one event loop.
 */
public final class LazyPagePrefetch {
  /** Outcome of looking a daemon request up. */
  public sealed interface Lookup {}

  /** {@code pages} pages from the request's address are here ({@code data}, taken out of the cache). */
  public record Cached(long pages, List<Buffer> data) implements Lookup {}

  /** The request's first page is on its way (asked ahead): answer it when that arrives. */
  public record InFlight() implements Lookup {}

  /** Ask the source for [start, end): nothing of it is here or on its way. */
  public record Miss(long end) implements Lookup {}

  private record Chunk(long start, long end, List<Buffer> data) {}

  private final Map<Long, TreeMap<Long, Long>> remaining = new TreeMap<>();
  private final Map<Long, TreeMap<Long, Long>> inFlight = new HashMap<>();
  private final Map<Long, TreeMap<Long, Chunk>> cached = new HashMap<>();
  private final long windowBytes;
  private final long chunkBytes;
  private final long flyingLimit;
  private long heldBytes;
  private long flyingBytes;
  private long followedPid = -1;
  private long askedBytes;
  private long servedBytes;

  /**
   * @param windowBytes at most this much asked for and not yet taken by the daemon
   * @param chunkBytes the size of one request
   * @param flyingLimit at most this much asked for and not arrived: a page fault the daemon sends to the
   *     source waits behind it, since the page server answers in order
   */
  public LazyPagePrefetch(LazyPagemap pagemap, long windowBytes, long chunkBytes, long flyingLimit) {
    this.windowBytes = windowBytes;
    this.flyingLimit = flyingLimit;
    this.chunkBytes = Math.max(LazyPagemap.PAGE, chunkBytes - chunkBytes % LazyPagemap.PAGE);
    pagemap.byPid().forEach((pid, ranges) -> {
      TreeMap<Long, Long> plan = new TreeMap<>();
      ranges.forEach(range -> plan.put(range.start(), range.end()));
      remaining.put(pid, plan);
    });
  }

  /** The daemon is pushing task {@code pid}'s memory in the background: read ahead there. */
  public void follow(long pid) {
    followedPid = pid;
  }

  /** The next range to ask for ahead of the daemon, now marked as on its way; null when none (yet). */
  public Range next() {
    if (heldBytes >= windowBytes || flyingBytes >= flyingLimit) {
      return null;
    }
    TreeMap<Long, Long> plan = remaining.get(followedPid);
    long pid = followedPid;
    if (plan == null || plan.isEmpty()) {
      pid = -1;
      for (Map.Entry<Long, TreeMap<Long, Long>> task : remaining.entrySet()) {
        if (!task.getValue().isEmpty()) {
          pid = task.getKey();
          plan = task.getValue();
          break;
        }
      }
      if (pid < 0) {
        return null;
      }
    }
    Map.Entry<Long, Long> first = plan.firstEntry();
    long start = first.getKey();
    long end = Math.min(first.getValue(), start + chunkBytes);
    cut(plan, start, end);
    inFlight.computeIfAbsent(pid, p -> new TreeMap<>()).put(start, end);
    heldBytes += end - start;
    flyingBytes += end - start;
    askedBytes += end - start;
    return new Range(pid, start, end);
  }

  /** The source answered {@code asked} with its first {@code pages} pages ({@code data}). */
  public void arrived(Range asked, long pages, List<Buffer> data) {
    inFlight.get(asked.pid()).remove(asked.start());
    heldBytes -= asked.end() - asked.start();
    flyingBytes -= asked.end() - asked.start();
    long end = Math.min(asked.end(), asked.start() + pages * LazyPagemap.PAGE);
    if (end < asked.end()) {
      remaining.computeIfAbsent(asked.pid(), p -> new TreeMap<>()).put(end, asked.end());
    }
    if (end > asked.start()) {
      cached.computeIfAbsent(asked.pid(), p -> new TreeMap<>()).put(asked.start(), new Chunk(asked.start(), end, data));
      heldBytes += end - asked.start();
    }
  }

  /** Looks up the daemon's request for [start, end) of task {@code pid}. */
  public Lookup lookup(long pid, long start, long end) {
    TreeMap<Long, Chunk> chunks = cached.get(pid);
    Map.Entry<Long, Chunk> hit = chunks == null ? null : chunks.floorEntry(start);
    if (hit != null && hit.getValue().end() > start) {
      return take(chunks, hit.getValue(), start, end);
    }
    TreeMap<Long, Long> flying = inFlight.get(pid);
    Map.Entry<Long, Long> coming = flying == null ? null : flying.floorEntry(start);
    if (coming != null && coming.getValue() > start) {
      return new InFlight();
    }
    long missEnd = end;
    Long nextCached = chunks == null ? null : chunks.higherKey(start);
    Long nextFlying = flying == null ? null : flying.higherKey(start);
    if (nextCached != null) {
      missEnd = Math.min(missEnd, nextCached);
    }
    if (nextFlying != null) {
      missEnd = Math.min(missEnd, nextFlying);
    }
    TreeMap<Long, Long> plan = remaining.get(pid);
    if (plan != null) {
      cut(plan, start, missEnd);
    }
    return new Miss(missEnd);
  }

  private Cached take(TreeMap<Long, Chunk> chunks, Chunk first, long start, long end) {
    List<Buffer> data = new ArrayList<>();
    long at = start;
    Chunk chunk = first;
    while (chunk != null && chunk.start() <= at && at < end) {
      long upTo = Math.min(end, chunk.end());
      chunks.remove(chunk.start());
      if (chunk.start() < at) {
        chunks.put(chunk.start(), new Chunk(chunk.start(), at, slice(chunk.data(), 0, at - chunk.start())));
      }
      data.addAll(slice(chunk.data(), at - chunk.start(), upTo - chunk.start()));
      if (upTo < chunk.end()) {
        chunks.put(upTo, new Chunk(upTo, chunk.end(), slice(chunk.data(), upTo - chunk.start(), chunk.end() - chunk.start())));
      }
      heldBytes -= upTo - at;
      servedBytes += upTo - at;
      at = upTo;
      chunk = chunks.get(at);
    }
    return new Cached((at - start) / LazyPagemap.PAGE, data);
  }

  /** The pieces of {@code data} (concatenated) between byte offsets {@code from} and {@code to}. */
  static List<Buffer> slice(List<Buffer> data, long from, long to) {
    List<Buffer> pieces = new ArrayList<>();
    long offset = 0;
    for (Buffer buffer : data) {
      long bufferEnd = offset + buffer.length();
      if (bufferEnd > from && offset < to) {
        int sliceFrom = (int) Math.max(0, from - offset);
        int sliceTo = (int) Math.min(buffer.length(), to - offset);
        pieces.add(sliceFrom == 0 && sliceTo == buffer.length() ? buffer : buffer.slice(sliceFrom, sliceTo));
      }
      offset = bufferEnd;
      if (offset >= to) {
        break;
      }
    }
    return pieces;
  }

  /** Removes [start, end) from a set of disjoint ranges. */
  static void cut(TreeMap<Long, Long> ranges, long start, long end) {
    Long key = ranges.floorKey(start);
    if (key == null || ranges.get(key) <= start) {
      key = ranges.higherKey(start);
    }
    while (key != null && key < end) {
      long rangeEnd = ranges.remove(key);
      if (key < start) {
        ranges.put(key, start);
      }
      if (rangeEnd > end) {
        ranges.put(end, rangeEnd);
      }
      key = ranges.higherKey(key);
    }
  }

  /** Bytes asked for or waiting here for the daemon. */
  public long heldBytes() {
    return heldBytes;
  }

  /** Bytes asked for ahead of the daemon. */
  public long askedBytes() {
    return askedBytes;
  }

  /** Bytes the daemon took from what was asked ahead. */
  public long servedBytes() {
    return servedBytes;
  }

  /** True while something asked ahead has not arrived. */
  public boolean waiting() {
    return inFlight.values().stream().anyMatch(ranges -> !ranges.isEmpty());
  }
}
