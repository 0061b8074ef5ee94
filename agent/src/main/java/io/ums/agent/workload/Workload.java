package io.ums.agent.workload;

import java.time.Instant;

/**
 * A workload this agent runs. {@code pid} is the host PID of the root of the workload's process tree
 * (for a process workload: the init of its own PID namespace, the task CRIU dumps).
 * {@code restoredFrom} is the migration id it was restored by, or null when launched here.
 */
public record Workload(String id, WorkloadSpec spec, long pid, WorkloadStatus status, Instant createdAt,
                       String restoredFrom) {
  public Workload withStatus(WorkloadStatus newStatus) {
    return new Workload(id, spec, pid, newStatus, createdAt, restoredFrom);
  }
}
