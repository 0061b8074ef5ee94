package io.ums.agent.migration;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The two places where a test may put itself between the engine and the outside world, to damage a
 * migration on purpose: the route of the source's data connection, and the images the destination received.
 * The agent runs {@link #NONE}; only a test's own main class installs others (the engine has no switch for
 * them), so the data path has no test branch.
 *
 * @param route how the source reaches the destination's data port
 * @param beforeRestore called (blocking, on a worker) with the received image directory before the restore
 * @param beforeCommit see {@link BeforeCommit}
 */
public record MigrationHooks(DataRoute route, BeforeRestore beforeRestore, BeforeCommit beforeCommit) {
  public static final MigrationHooks NONE = new MigrationHooks(DataRoute.DIRECT, images -> { });

  public MigrationHooks(DataRoute route, BeforeRestore beforeRestore) {
    this(route, beforeRestore, BeforeCommit.NONE);
  }

  /**
   * Called (blocking, on a worker) on the source with the migration id once the destination's result arrived,
   * before the source commits: where a test holds the source to kill its agent after the destination restored.
   */
  @FunctionalInterface
  public interface BeforeCommit {
    BeforeCommit NONE = migrationId -> { };

    void accept(String migrationId) throws Exception;

    default boolean none() {
      return this == NONE;
    }
  }

  /** How the source's data connection reaches {@code host:port}. */
  @FunctionalInterface
  public interface DataRoute {
    DataRoute DIRECT = (vertx, host, port) -> Future.succeededFuture(new Hop(host, port, Future::succeededFuture));

    Future<Hop> open(Vertx vertx, String host, int port);
  }

  /** Where to connect instead, and what to close when the migration ends. */
  public record Hop(String host, int port, java.util.function.Supplier<Future<Void>> close) {}

  /** Looks at (or changes) the received images before the restore. */
  @FunctionalInterface
  public interface BeforeRestore {
    void accept(Path images) throws IOException;
  }
}
