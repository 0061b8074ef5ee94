package io.ums.agent.dataplane;

import java.util.List;
import java.util.Map;

/**
 * The JVM settings an agent runs with so that its RSS stays under 128 MiB while it streams a 1 GiB
 * checkpoint (measured: ~100 MiB peak for 1 GiB on both ends). The data plane holds at most a channel
 * window and a socket write queue per stream, so a small heap suffices; what remains is JVM overhead:
 * C1-only JIT (no C2 compiler arenas), a smaller code cache, two malloc arenas. {@code ./ums agent} uses
 * the same values; anything that launches agents (tests, bench) should too.
 *
 * <p>The young generation is sized for the data plane's bytes in flight: a receive window (4 MiB) of
 * payload buffers lives until the page server has taken it, i.e. across young collections when the
 * consumer is slow. The default survivor spaces (1.6 MiB) cannot hold them, so they overflow into the old
 * generation, which fills up to its 32 MiB before a full collection: measured, a destination's heap went
 * from 28 to 47 MiB resident during a slow 512 MiB transfer (peak RSS 141 MiB; quick transfers stay at 28). Survivor spaces of
 * 4 MiB that may fill to 90% keep them young; the young generation stays 16 MiB, as before.
 *
 * <p>A relayed page stream (stop-and-copy, and the source of a post-copy) is no longer on the heap: its
 * bytes stay in the pooled direct buffers the sockets read into (io.ums.protocol.SocketPipes), up to a
 * channel window plus the socket queues per stream, and a read buffer lives until its last payload is
 * written. Direct memory may therefore reach 64 MiB (several concurrent migrations); it counts in RSS only
 * as far as it is used.
 */
public final class AgentMemoryBudget {
  public static final List<String> JVM_OPTIONS = List.of("-XX:+UseSerialGC", "-Xss512k", "-Xmx48m", "-Xmn16m",
      "-XX:SurvivorRatio=2", "-XX:TargetSurvivorRatio=90",
      "-XX:MaxDirectMemorySize=64m", "-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=32m");
  public static final Map<String, String> ENVIRONMENT = Map.of("MALLOC_ARENA_MAX", "2");

  private AgentMemoryBudget() {}
}
