package io.ums.coordinator.migration;

import io.ums.coordinator.config.Defaults;
import java.time.Duration;

/**
 * Knobs of the migration state machine (tests shorten them). {@code encryptInCluster}: whether pages
 * moved between two nodes of this cluster go under TLS too ({@code --encrypt-data-plane}); between
 * clusters they always do.
 */
public record MigrationSettings(Duration pollInterval, Duration phaseTimeout, boolean encryptInCluster) {
  public MigrationSettings(Duration pollInterval, Duration phaseTimeout) {
    this(pollInterval, phaseTimeout, false);
  }

  public static MigrationSettings defaults() {
    return new MigrationSettings(Defaults.STATUS_POLL_INTERVAL, Defaults.PHASE_TIMEOUT);
  }

  public MigrationSettings withEncryptInCluster(boolean encrypt) {
    return new MigrationSettings(pollInterval, phaseTimeout, encrypt);
  }

  /** Whether the data connection of a migration is encrypted (PROTOCOL.md 2.4). */
  public boolean encrypts(boolean sameCluster) {
    return !sameCluster || encryptInCluster;
  }
}
