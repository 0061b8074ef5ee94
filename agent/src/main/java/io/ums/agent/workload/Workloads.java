package io.ums.agent.workload;

import io.vertx.core.Future;
import java.util.List;
import java.util.Optional;

/**
 * The agent's registry of workloads: what the control API lists and what migrations take and give.
 * Implementations persist enough under the work dir for a restarted agent to find its workloads again.
 */
public interface Workloads {
  int MAX_LOG_CHARS = 1 << 20;

  Optional<Workload> find(String id);

  List<Workload> list();

  /**
   * Starts a workload as the init of its own PID namespace, stdout/stderr drained into its log. Fails with
   * {@link InvalidWorkloadSpecException} when the spec cannot run here (the API answers 400).
   */
  Future<Workload> launch(WorkloadSpec spec);

  /**
   * Claims the workload for a migration. Fails with {@link WorkloadBusyException} when it is already
   * migrating (the API answers 409), with {@link WorkloadStateException} when it is not running (409), and
   * with {@link java.util.NoSuchElementException} when unknown (404).
   */
  Future<Workload> beginMigration(String id, String migrationId);

  /** Ends the claim: the workload runs here again (rollback), status back to RUNNING. */
  void endMigration(String id);

  /**
   * Starts the output relay a restored workload will write to, with its log under this registry's work
   * dir. The migration engine opens it before {@code criu restore} and hands it to CRIU with
   * {@code --inherit-fd} (see {@link OutputRelay} for the exact steps), then calls
   * {@link #adoptRestored} with {@link OutputRelay#sink()}, or {@link OutputRelay#close()} when the
   * restore failed.
   */
  Future<OutputRelay> openRelay(String workloadName);

  /**
   * Records a workload restored on this node by a migration; its output is drained like a launched one.
   * {@code pid} is the host PID of the restored tree's root (the init of its PID namespace); {@code log}
   * normally comes from {@link #openRelay}'s {@link OutputRelay#sink()}, whose agent-side writer this
   * releases. A log from elsewhere is listed as is and must stay where it is.
   */
  Future<Workload> adoptRestored(WorkloadSpec spec, long pid, String migrationId, LogSink log);

  /**
   * Kills the workload's whole process tree and forgets it (and its log). Fails with
   * {@link WorkloadBusyException} while it is migrating and {@link java.util.NoSuchElementException} when
   * unknown.
   */
  Future<Void> remove(String id);

  /**
   * The workload's output so far (stdout and stderr as its relay appended them; at most the last
   * {@value #MAX_LOG_CHARS} characters), for GET /v1/workloads/{id}/logs.
   */
  Future<String> logs(String id);
}
