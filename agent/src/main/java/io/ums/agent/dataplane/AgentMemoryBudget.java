package io.ums.agent.dataplane;

import java.util.List;
import java.util.Map;

/**
 * The JVM settings an agent runs with so that its RSS stays under 128 MiB while it streams a 1 GiB
 * checkpoint (measured: ~100 MiB peak for 1 GiB on both ends). The data plane holds at most a channel
 * window and a socket write queue per stream, so a small heap suffices; what remains is JVM overhead:
 * C1-only JIT (no C2 compiler arenas), a smaller code cache, two malloc arenas. {@code ./ums agent} uses
 * the same values; anything that launches agents (tests, bench) should too.
 */
public final class AgentMemoryBudget {
  public static final List<String> JVM_OPTIONS = List.of("-XX:+UseSerialGC", "-Xss512k", "-Xmx48m",
      "-XX:MaxDirectMemorySize=32m", "-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=32m");
  public static final Map<String, String> ENVIRONMENT = Map.of("MALLOC_ARENA_MAX", "2");

  private AgentMemoryBudget() {}
}
