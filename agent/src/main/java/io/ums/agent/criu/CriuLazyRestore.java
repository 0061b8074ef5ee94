package io.ums.agent.criu;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code criu restore -d --lazy-pages}: {@link CriuRestore} with the anonymous memory left out. The restored
 * tasks run as soon as CRIU returns; their missing pages come through the {@link CriuLazyPages} daemon,
 * which must already listen in the same work directory.
 */
public final class CriuLazyRestore {
  private CriuLazyRestore() {}

  public static List<String> arguments(CriuRestore.Options options) {
    List<String> args = new ArrayList<>(CriuRestore.arguments(options));
    args.add("--lazy-pages");
    return args;
  }

  /** Runs the restore to completion and returns the restored root's host PID. Blocking. */
  public static long run(CriuRunner runner, CriuRestore.Options options, long timeoutMillis) throws IOException {
    return CriuRestore.run(runner, options, arguments(options), "criu restore --lazy-pages", timeoutMillis);
  }
}
