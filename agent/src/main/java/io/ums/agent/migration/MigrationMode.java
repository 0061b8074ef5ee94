package io.ums.agent.migration;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * How a workload's memory moves: all of it while the workload is frozen (stop-and-copy), or after it runs
 * on the destination, on demand and pushed in the background (post-copy, see agent/POSTCOPY.md).
 */
public enum MigrationMode {
  STOP_AND_COPY,
  POST_COPY;

  /** The name the API uses: {@code stop-and-copy}, {@code post-copy}. */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** Every wire name, for validation messages. */
  public static List<String> wireNames() {
    return Arrays.stream(values()).map(MigrationMode::wireName).toList();
  }

  /** The mode named {@code wireName}; stop-and-copy for null. */
  public static MigrationMode fromWire(String wireName) {
    if (wireName == null) {
      return STOP_AND_COPY;
    }
    return Arrays.stream(values()).filter(mode -> mode.wireName().equals(wireName)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("unknown migration mode " + wireName));
  }
}
