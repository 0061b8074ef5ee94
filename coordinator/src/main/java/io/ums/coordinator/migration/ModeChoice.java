package io.ums.coordinator.migration;

import io.ums.coordinator.error.MigrationException;
import io.ums.coordinator.peer.AgentClient;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mode a migration uses: the request's; "auto" is post-copy for a process tree or runc container
 * (interfaces ff, runc) whose resident memory (as its agent reports it) exceeds
 * {@link #AUTO_POST_COPY_ABOVE_BYTES}, where stop-and-copy's downtime would exceed about a second, else
 * stop-and-copy. Post-copy moves process trees and runc containers only.
 */
final class ModeChoice {
  private static final Logger LOG = LoggerFactory.getLogger(ModeChoice.class);
  /** Above this resident memory "auto" picks post-copy: stop-and-copy moves ~256 MiB per second of downtime. */
  static final long AUTO_POST_COPY_ABOVE_BYTES = 256L << 20;

  private ModeChoice() {}

  static Future<String> choose(Migration migration, Approach approach, AgentClient sourceAgent,
                               String agentWorkloadId) {
    String requested = migration.request().mode();
    if (approach != Approach.FF && approach != Approach.RUNC) {
      return requested.equals(MigrationRequest.POST_COPY) ? Future.failedFuture(MigrationException.badField("mode",
          "post-copy moves process trees and runc containers only (interfaces ff, runc), not "
              + approach.wireName()))
          : Future.succeededFuture(MigrationRequest.STOP_AND_COPY);
    }
    if (!requested.equals(MigrationRequest.AUTO)) {
      return Future.succeededFuture(requested);
    }
    return sourceAgent.workload(agentWorkloadId).map(json -> {
      long rss = json.getLong("rssBytes", 0L);
      String mode = rss > AUTO_POST_COPY_ABOVE_BYTES ? MigrationRequest.POST_COPY : MigrationRequest.STOP_AND_COPY;
      LOG.info("migration {}: mode auto chose {} (rss {} MiB)", migration.id(), mode, rss >> 20);
      return mode;
    });
  }
}
