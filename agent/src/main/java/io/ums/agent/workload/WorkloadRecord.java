package io.ums.agent.workload;

import java.nio.file.Path;
import java.util.Optional;

/**
 * What the agent knows about one workload and persists under its work dir: the workload, the identity of
 * its root process (so a restarted agent recognises it), its relay, and its log file.
 */
record WorkloadRecord(Workload workload, ProcessIdentity process, Optional<ProcessIdentity> relay, Path logFile) {
  String id() {
    return workload.id();
  }

  WorkloadRecord withStatus(WorkloadStatus status) {
    return new WorkloadRecord(workload.withStatus(status), process, relay, logFile);
  }
}
