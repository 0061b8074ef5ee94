package io.ums.coordinator;

import java.time.Duration;

/** Ports and limits shared by the code, the manifests under deploy/ and the tests that check them. */
public final class Defaults {
  /** The coordinator's HTTP API. */
  public static final int COORDINATOR_PORT = 8080;
  /** The agent's control API (HTTP/JSON), see agent-api.md. */
  public static final int AGENT_CONTROL_PORT = 7070;
  /** The agent's data port (the UMS binary protocol, agent to agent). */
  public static final int AGENT_DATA_PORT = 7071;
  /** Name of the agent's control port in the DaemonSet; the coordinator looks it up on the agent pod. */
  public static final String AGENT_CONTROL_PORT_NAME = "control";
  public static final String AGENT_DATA_PORT_NAME = "data";
  /** Label carried by every agent pod of the DaemonSet. */
  public static final String AGENT_LABEL_KEY = "app.kubernetes.io/name";
  public static final String AGENT_LABEL_VALUE = "ums-agent";
  /** The agent's --grace-period (its default): in-flight migrations get this long to finish or roll back. */
  public static final Duration AGENT_SHUTDOWN_GRACE = Duration.ofSeconds(30);
  /** What the agent allows itself beyond the grace period to report rollbacks before it exits. */
  public static final Duration AGENT_DRAIN_SLACK = Duration.ofSeconds(10);
  /** A migration phase (checkpoint, transfer, restore) that makes no progress for this long fails with 504. */
  public static final Duration PHASE_TIMEOUT = Duration.ofMinutes(5);
  /**
   * The source agent not answering (connection refused or closed, no answer) for this long during a
   * migration is lost: the coordinator then asks the destination what became of the workload.
   */
  public static final Duration AGENT_LOSS_TIMEOUT = Duration.ofSeconds(5);
  /** Finished migrations GET /migrations keeps, at most this many and at most this long. */
  public static final int FINISHED_MIGRATIONS_KEPT = 200;
  public static final Duration FINISHED_MIGRATIONS_TTL = Duration.ofHours(1);
  /** How often the coordinator asks the source agent for the migration status. */
  public static final Duration STATUS_POLL_INTERVAL = Duration.ofMillis(100);

  private Defaults() {}
}
