package io.ums.agent.migration;

import io.ums.agent.criu.CriuRestore;
import io.ums.agent.criu.ProcessTree;
import io.ums.agent.criu.RestoreGuard;
import io.ums.agent.criu.TcpConnections;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.workload.OutputRelay;
import io.ums.agent.workload.WorkingDirectories;
import io.ums.agent.workload.WorkloadSpec;
import io.vertx.core.Future;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A process tree moved with the agent's own CRIU (interface ff), the destination side: pages and image
 * files as every CRIU checkpoint, then {@code criu restore -d} into a fresh PID namespace, its output on a new
 * relay pipe, and the workload registered. Undo: the restored workload is removed again.
 */
final class ProcessDestination extends CriuDestination {
  private static final Logger LOG = LoggerFactory.getLogger(ProcessDestination.class);

  /** Kills the restored tree if this agent dies before the source heard that it runs; disarmed in release. */
  private RestoreGuard restoreGuard;
  /** Whether the restore kept the TCP connections live (the source resets them otherwise). */
  private boolean tcpEstablished;

  ProcessDestination(ReceiveSession session) {
    super(session);
  }

  @Override
  public Future<MigrationResult> restore(RestoreManifest manifest) {
    String migrationId = beginRestore(manifest);
    WorkloadSpec spec = manifest.specOrEmpty();
    return checkpointReceived()
        .compose(ignored -> beforeRestore())
        .compose(ignored -> {
          session.status().phase(MigrationPhase.RESTORING);
          LOG.info("session {} RESTORING: {} of migration {}", session.id(), spec.name(), migrationId);
          return restoreWorkload(spec, migrationId, relay -> runRestore(relay, manifest));
        })
        .map(restored -> MigrationResult.restored(restored.id(), session.status().timing("restoreMs"),
            tcpEstablished));
  }

  private Future<Long> runRestore(OutputRelay relay, RestoreManifest manifest) {
    long started = System.nanoTime();
    return vertx.executeBlocking(() -> {
      requireListenAddresses(manifest);
      if (manifest.cwd().isPresent()) {
        WorkingDirectories.recreate(manifest.cwd().get());
      }
      // see TcpConnections: connections go on only where their local addresses exist
      tcpEstablished = TcpConnections.allLocal(manifest.tcpLocalAddresses());
      LOG.info("session {}: TCP connections with local addresses {} restored {}", session.id(),
          manifest.tcpLocalAddresses(), tcpEstablished ? "established" : "closed (--tcp-close)");
      CriuRestore.Options options = new CriuRestore.Options(dir.resolve("images"), dir, manifest.outputPipeInode(),
          relay.writeEnd(), tcpEstablished);
      restoreGuard = RestoreGuard.arm(CriuRestore.pidFile(dir));
      long pid = CriuRestore.run(deps.criu(), options, deps.settings().restoreTimeout().toMillis());
      if (!ProcessTree.rootRuns(pid)) {
        throw new MigrationFailure.Exception(Code.RESTORE_FAILED, "restored pid " + pid + " is not running");
      }
      session.status().timing("restoreMs", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
      return pid;
    }, false);
  }

  @Override
  public void release(boolean failed) {
    if (restoreGuard != null) {
      restoreGuard.disarm(); // handed over, or removed by this agent itself
    }
    super.release(failed);
  }
}
