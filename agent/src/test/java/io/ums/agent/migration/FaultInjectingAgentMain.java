package io.ums.agent.migration;

import io.ums.agent.AgentMain;
import io.ums.agent.DataPathWarmup;
import java.nio.file.Files;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent with fault hooks installed, for {@link MigrationFaultTest}: {@code -Dums.test.corruptWireByteAt=N}
 * routes the source's data connection through a {@link CorruptingProxy} flipping byte N;
 * {@code -Dums.test.dropImage=FILE} deletes that received image file on the destination before the restore.
 * {@link AgentProcess} starts this main class instead of {@link AgentMain} when a {@code ums.test.} property
 * is given; the production agent has no such switch. {@code -Dums.test.holdBeforeCommit=true}: the source
 * holds after the destination's result, before its commit.
 */
public final class FaultInjectingAgentMain {
  static final String PROPERTY_PREFIX = "ums.test.";
  private static final Logger LOG = LoggerFactory.getLogger(FaultInjectingAgentMain.class);

  private FaultInjectingAgentMain() {}

  public static void main(String[] args) {
    MigrationHooks hooks = new MigrationHooks(route(), beforeRestore(), beforeCommit());
    System.exit(AgentMain.run(args, DataPathWarmup.after((vertx, config, workloads, criu) ->
        CriuMigrations.start(vertx, config.engine(), workloads, criu, hooks))));
  }

  private static MigrationHooks.DataRoute route() {
    Optional<Long> corruptAt = Optional.ofNullable(System.getProperty(PROPERTY_PREFIX + "corruptWireByteAt"))
        .map(Long::parseLong);
    if (corruptAt.isEmpty()) {
      return MigrationHooks.DataRoute.DIRECT;
    }
    return (vertx, host, port) -> CorruptingProxy.start(vertx, host, port, corruptAt.get())
        .map(proxy -> new MigrationHooks.Hop("127.0.0.1", proxy.port(), proxy::close));
  }

  /** {@code -Dums.test.holdBeforeCommit=true}: the source never commits (its test kills the agent there). */
  private static MigrationHooks.BeforeCommit beforeCommit() {
    if (!Boolean.getBoolean(PROPERTY_PREFIX + "holdBeforeCommit")) {
      return MigrationHooks.BeforeCommit.NONE;
    }
    return migrationId -> {
      LOG.warn("fault hook: migration {} holds before its commit until the agent is killed", migrationId);
      new java.util.concurrent.CountDownLatch(1).await();
    };
  }

  private static MigrationHooks.BeforeRestore beforeRestore() {
    Optional<String> drop = Optional.ofNullable(System.getProperty(PROPERTY_PREFIX + "dropImage"));
    return images -> {
      if (drop.isPresent()) {
        LOG.warn("fault hook: removing {} before the restore", drop.get());
        Files.deleteIfExists(images.resolve(drop.get()));
      }
    };
  }
}
