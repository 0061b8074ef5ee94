package io.ums.coordinator.migration;

import io.ums.coordinator.Defaults;
import java.time.Duration;

/**
 * Knobs of the migration state machine (tests shorten them).
 *
 * @param pollInterval how often the source agent is asked for the migration's status
 * @param phaseTimeout a phase without progress for this long fails (504)
 * @param agentLossTimeout the source agent not answering for this long is lost: the destination is asked
 *     what became of the workload (see {@link LostSourceAgent})
 * @param finishedKept how many finished migrations GET /migrations still shows (the oldest go first)
 * @param finishedTtl how long a finished migration is kept at most
 * @param encryptInCluster whether pages moved between two nodes of this cluster go under TLS too
 *     ({@code --encrypt-data-plane}); between clusters they always do
 */
public record MigrationSettings(Duration pollInterval, Duration phaseTimeout, Duration agentLossTimeout,
                                int finishedKept, Duration finishedTtl, boolean encryptInCluster) {
  public MigrationSettings(Duration pollInterval, Duration phaseTimeout) {
    this(pollInterval, phaseTimeout, Defaults.AGENT_LOSS_TIMEOUT, Defaults.FINISHED_MIGRATIONS_KEPT,
        Defaults.FINISHED_MIGRATIONS_TTL, false);
  }

  public static MigrationSettings defaults() {
    return new MigrationSettings(Defaults.STATUS_POLL_INTERVAL, Defaults.PHASE_TIMEOUT);
  }

  public MigrationSettings withAgentLossTimeout(Duration timeout) {
    return new MigrationSettings(pollInterval, phaseTimeout, timeout, finishedKept, finishedTtl, encryptInCluster);
  }

  public MigrationSettings withHistory(int kept, Duration ttl) {
    return new MigrationSettings(pollInterval, phaseTimeout, agentLossTimeout, kept, ttl, encryptInCluster);
  }

  public MigrationSettings withEncryptInCluster(boolean encrypt) {
    return new MigrationSettings(pollInterval, phaseTimeout, agentLossTimeout, finishedKept, finishedTtl, encrypt);
  }

  /** Whether the data connection of a migration is encrypted (PROTOCOL.md 2.4). */
  public boolean encrypts(boolean sameCluster) {
    return !sameCluster || encryptInCluster;
  }
}
