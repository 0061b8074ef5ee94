package io.ums.coordinator.migration;

import io.ums.coordinator.config.Defaults;
import java.time.Duration;

/** Knobs of the migration state machine (tests shorten them). */
public record MigrationSettings(Duration pollInterval, Duration phaseTimeout) {
  public static MigrationSettings defaults() {
    return new MigrationSettings(Defaults.STATUS_POLL_INTERVAL, Defaults.PHASE_TIMEOUT);
  }
}
