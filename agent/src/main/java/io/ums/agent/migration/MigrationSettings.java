package io.ums.agent.migration;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Tunables of the migration engine. The defaults suit a real cluster; system properties
 * ({@code -Dums.migration.*}) override them.
 *
 * @param sessionRoot tmpfs directory for dump images (source) and receive sessions (destination)
 * @param migrationTimeout a migration not done by then rolls back
 * @param receiveSessionTtl a prepared receive session nobody connected to by then is forgotten
 * @param idleTimeout the data connection is declared dead after this long without a frame (a cut link)
 * @param failureLogs where the CRIU logs of failed migrations are kept (session directories go in every
 *     outcome)
 */
public record MigrationSettings(Path sessionRoot, Duration migrationTimeout, Duration receiveSessionTtl,
                                Duration idleTimeout, Duration pingInterval, Duration restoreTimeout,
                                Path failureLogs) {
  public static final Duration DEFAULT_MIGRATION_TIMEOUT = Duration.ofMinutes(10);
  public static final Duration DEFAULT_RECEIVE_SESSION_TTL = Duration.ofMinutes(5);
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(4);
  public static final Duration DEFAULT_PING_INTERVAL = Duration.ofSeconds(1);
  public static final Duration DEFAULT_RESTORE_TIMEOUT = Duration.ofMinutes(2);

  /** The defaults for a node named {@code node} with work dir {@code workDir}, then system properties. */
  public static MigrationSettings forNode(String node, Path workDir) {
    Path shm = Path.of("/dev/shm");
    // one directory per agent (node name plus its work dir), so that agents sharing a host never touch
    // each other's sessions
    String agent = node + "-" + Integer.toHexString(workDir.toAbsolutePath().toString().hashCode());
    Path root = Files.isDirectory(shm) ? shm.resolve("ums").resolve(agent) : workDir.resolve("sessions");
    return new MigrationSettings(
        Path.of(System.getProperty("ums.migration.sessionRoot", root.toString())),
        seconds("ums.migration.timeoutSeconds", DEFAULT_MIGRATION_TIMEOUT),
        seconds("ums.migration.receiveTtlSeconds", DEFAULT_RECEIVE_SESSION_TTL),
        millis("ums.migration.idleTimeoutMillis", DEFAULT_IDLE_TIMEOUT),
        millis("ums.migration.pingIntervalMillis", DEFAULT_PING_INTERVAL),
        seconds("ums.migration.restoreTimeoutSeconds", DEFAULT_RESTORE_TIMEOUT),
        Path.of(System.getProperty("ums.migration.failureLogs", workDir.resolve("failed-migrations").toString())));
  }

  private static Duration seconds(String property, Duration fallback) {
    String value = System.getProperty(property);
    return value == null ? fallback : Duration.ofSeconds(Long.parseLong(value));
  }

  private static Duration millis(String property, Duration fallback) {
    String value = System.getProperty(property);
    return value == null ? fallback : Duration.ofMillis(Long.parseLong(value));
  }
}
