package io.ums.agent.workload;

import io.vertx.core.Future;
import java.util.List;
import java.util.Optional;

/**
 * The agent's registry of workloads: what the control API lists and what migrations take and give.
 * Implementations persist enough under the work dir for a restarted agent to find its workloads again.
 */
public interface Workloads {
  Optional<Workload> find(String id);

  List<Workload> list();

  /** Starts a workload as the init of its own PID namespace, stdout/stderr drained into its log. */
  Future<Workload> launch(WorkloadSpec spec);

  /**
   * Claims the workload for a migration. Fails with {@link WorkloadBusyException} when it is already
   * migrating (the API answers 409), and with {@link java.util.NoSuchElementException} when unknown (404).
   */
  Future<Workload> beginMigration(String id, String migrationId);

  /** Ends the claim: the workload runs here again (rollback), status back to RUNNING. */
  void endMigration(String id);

  /** Records a workload restored on this node by a migration; its output is drained like a launched one. */
  Future<Workload> adoptRestored(WorkloadSpec spec, long pid, String migrationId, LogSink log);

  /** Kills the workload's whole process tree and forgets it (and its log). */
  Future<Void> remove(String id);

  /** The log file of the workload (for /logs and for adopting a restored workload's output). */
  Future<String> logs(String id);
}
