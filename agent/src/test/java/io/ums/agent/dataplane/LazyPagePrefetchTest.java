package io.ums.agent.dataplane;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.agent.criu.LazyPagemap;
import io.ums.agent.criu.LazyPagemap.Range;
import io.vertx.core.buffer.Buffer;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The destination's read-ahead plan and cache, driven as the daemon and the source would. */
class LazyPagePrefetchTest {
  private static final long PAGE = LazyPagemap.PAGE;
  private static final long A = 0x7f0000000000L;
  private static final long B = 0x7f1000000000L;

  /** Pages whose first byte tells their address, split into buffers of 3 pages (as the network would). */
  private static List<Buffer> pages(long start, long count) {
    List<Buffer> buffers = new java.util.ArrayList<>();
    for (long page = 0; page < count; page += 3) {
      Buffer buffer = Buffer.buffer();
      for (long p = page; p < Math.min(count, page + 3); p++) {
        buffer.appendBuffer(Buffer.buffer(new byte[(int) PAGE]).setLong(0, start + p * PAGE));
      }
      buffers.add(buffer);
    }
    return buffers;
  }

  private static void assertPages(List<Buffer> data, long start, long count) {
    Buffer all = Buffer.buffer();
    data.forEach(all::appendBuffer);
    assertThat(all.length()).isEqualTo(count * PAGE);
    for (long p = 0; p < count; p++) {
      assertThat(all.getLong((int) (p * PAGE))).isEqualTo(start + p * PAGE);
    }
  }

  private static void answer(LazyPagePrefetch prefetch, Range asked) {
    prefetch.arrived(asked, asked.pages(), pages(asked.start(), asked.pages()));
  }

  @Test
  void readsAheadInOrderWithinTheWindowAndAnswersAcrossChunks() {
    LazyPagePrefetch prefetch = new LazyPagePrefetch(LazyPagemap.of(List.of(new Range(1, A, A + 10 * PAGE))),
        8 * PAGE, 4 * PAGE, 8 * PAGE);
    Range first = prefetch.next();
    Range second = prefetch.next();
    assertThat(first).isEqualTo(new Range(1, A, A + 4 * PAGE));
    assertThat(second).isEqualTo(new Range(1, A + 4 * PAGE, A + 8 * PAGE));
    assertThat(prefetch.next()).as("the window is full").isNull();

    assertThat(prefetch.lookup(1, A + PAGE, A + 6 * PAGE)).isInstanceOf(LazyPagePrefetch.InFlight.class);
    answer(prefetch, first);
    answer(prefetch, second);
    var cached = (LazyPagePrefetch.Cached) prefetch.lookup(1, A + PAGE, A + 6 * PAGE);
    assertThat(cached.pages()).isEqualTo(5);
    assertPages(cached.data(), A + PAGE, 5);

    // 3 pages are left cached (A, A+6, A+7): the window has room for the rest of the range
    assertThat(prefetch.heldBytes()).isEqualTo(3 * PAGE);
    Range third = prefetch.next();
    assertThat(third).isEqualTo(new Range(1, A + 8 * PAGE, A + 10 * PAGE));
    assertThat(prefetch.next()).isNull();
    var head = (LazyPagePrefetch.Cached) prefetch.lookup(1, A, A + 10 * PAGE);
    assertThat(head.pages()).as("stops where the cache has a hole").isEqualTo(1);
    assertPages(head.data(), A, 1);
  }

  @Test
  void whatTheDaemonAsksForItselfLeavesThePlanAndStopsAtWhatIsOnItsWay() {
    LazyPagePrefetch prefetch = new LazyPagePrefetch(LazyPagemap.of(List.of(new Range(1, A, A + 16 * PAGE))),
        4 * PAGE, 4 * PAGE, 4 * PAGE);
    // a fault in the middle before any read-ahead: asked from the source, never again
    assertThat(prefetch.lookup(1, A + 9 * PAGE, A + 10 * PAGE)).isEqualTo(new LazyPagePrefetch.Miss(A + 10 * PAGE));
    Range first = prefetch.next();
    assertThat(first).isEqualTo(new Range(1, A, A + 4 * PAGE));
    // a request that runs into the range on its way is cut at its start
    assertThat(prefetch.lookup(1, A - 2 * PAGE, A + 2 * PAGE)).isEqualTo(new LazyPagePrefetch.Miss(A));
    answer(prefetch, first);
    prefetch.lookup(1, A, A + 4 * PAGE);
    assertThat(prefetch.next()).isEqualTo(new Range(1, A + 4 * PAGE, A + 8 * PAGE));
    prefetch.arrived(new Range(1, A + 4 * PAGE, A + 8 * PAGE), 4, pages(A + 4 * PAGE, 4));
    prefetch.lookup(1, A + 4 * PAGE, A + 8 * PAGE);
    assertThat(prefetch.next()).isEqualTo(new Range(1, A + 8 * PAGE, A + 9 * PAGE));
    assertThat(prefetch.next()).as("the faulted page is skipped").isEqualTo(new Range(1, A + 10 * PAGE, A + 14 * PAGE));
    assertThat(prefetch.next()).as("the window is full").isNull();
  }

  @Test
  void aShortAnswerPutsTheRestBackAndTheReadAheadFollowsTheDaemonsTask() {
    LazyPagePrefetch prefetch = new LazyPagePrefetch(LazyPagemap.of(List.of(
        new Range(1, A, A + 8 * PAGE), new Range(2, B, B + 8 * PAGE))), 64 * PAGE, 8 * PAGE, 64 * PAGE);
    prefetch.follow(2);
    Range asked = prefetch.next();
    assertThat(asked).isEqualTo(new Range(2, B, B + 8 * PAGE));
    prefetch.arrived(asked, 3, pages(B, 3));
    assertThat(prefetch.next()).as("the rest of task 2 first").isEqualTo(new Range(2, B + 3 * PAGE, B + 8 * PAGE));
    assertThat(prefetch.next()).as("then task 1").isEqualTo(new Range(1, A, A + 8 * PAGE));
    assertThat(prefetch.next()).isNull();
    var cached = (LazyPagePrefetch.Cached) prefetch.lookup(2, B, B + 8 * PAGE);
    assertThat(cached.pages()).isEqualTo(3);
  }

  @Test
  void atMostTheFlyingLimitIsOnItsWay() {
    LazyPagePrefetch prefetch = new LazyPagePrefetch(LazyPagemap.of(List.of(new Range(1, A, A + 64 * PAGE))),
        64 * PAGE, 4 * PAGE, 8 * PAGE);
    Range first = prefetch.next();
    prefetch.next();
    assertThat(prefetch.next()).as("8 pages on their way").isNull();
    answer(prefetch, first);
    assertThat(prefetch.next()).as("arrived, not taken: only the window counts it").isNotNull();
  }

  @Test
  void cutRemovesARangeFromDisjointRanges() {
    TreeMap<Long, Long> ranges = new TreeMap<>();
    ranges.put(0L, 10L);
    ranges.put(20L, 30L);
    ranges.put(40L, 50L);
    LazyPagePrefetch.cut(ranges, 5, 45);
    assertThat(ranges).containsExactly(java.util.Map.entry(0L, 5L), java.util.Map.entry(45L, 50L));
    LazyPagePrefetch.cut(ranges, 50, 60);
    LazyPagePrefetch.cut(ranges, 1, 2);
    assertThat(ranges).containsExactly(java.util.Map.entry(0L, 1L), java.util.Map.entry(2L, 5L),
        java.util.Map.entry(45L, 50L));
  }
}
