package io.ums.agent.migration;

import io.ums.agent.criu.TcpConnections;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.workload.OutputRelay;
import io.ums.agent.workload.Workload;
import io.ums.agent.workload.WorkloadSpec;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;

/**
 * What the destinations that restore a checkpoint on this node share, whether its pages arrive before the
 * restore ({@link CriuDestination}) or after it ({@link PostCopyProcessDestination}): the session's own
 * directory, the restore's first steps, the restored workload's registration, and its undo.
 */
abstract class SessionDestination implements DestinationBackend {
  protected final ReceiveSession session;
  protected final MigrationDeps deps;
  protected final Vertx vertx;
  protected final Path dir;

  SessionDestination(ReceiveSession session) {
    this.session = session;
    this.deps = session.deps();
    this.vertx = deps.vertx();
    this.dir = deps.settings().sessionRoot().resolve("recv-" + session.id());
  }

  @Override
  public Path dir() {
    return dir;
  }

  /** A full session directory explains a failure better than what broke next (see {@link DestinationDisk}). */
  @Override
  public Future<Throwable> explain(Throwable failure) {
    return DestinationDisk.explain(deps, dir, failure);
  }

  /** Fails the session, saying so when the cause is a full session directory. */
  protected void failExplained(Throwable failure, Code fallback) {
    explain(failure).onComplete(explained -> session.fail(Failures.classify(explained.result(), fallback)));
  }

  /** The restore begins: the status names the source's workload; returns the migration's id. */
  protected String beginRestore(RestoreManifest manifest) {
    session.beginRestore();
    session.status().workloadId(manifest.sourceWorkloadId().orElse(null));
    return manifest.migrationIdOr(session.id());
  }

  /** The fault hook's look at the received images, just before the restore. */
  protected Future<Void> beforeRestore() {
    return vertx.executeBlocking(() -> {
      deps.hooks().beforeRestore().accept(dir.resolve("images"));
      return null;
    }, false);
  }

  /**
   * Fails (blocking caller, on a worker) when the workload listens on an address this node does not have:
   * CRIU would fail with "Can't bind inet socket: Cannot assign requested address", naming no address.
   */
  protected void requireListenAddresses(RestoreManifest manifest) {
    List<String> missing = manifest.tcpListenAddresses().stream()
        .filter(address -> !TcpConnections.allLocal(List.of(address))).toList();
    if (!missing.isEmpty()) {
      throw new MigrationFailure.Exception(Code.RESTORE_FAILED, "the workload listens on " + String.join(", ",
          missing) + ", which node " + deps.node() + " does not have; it can only move to a node with that"
          + " address (or listen on 0.0.0.0 / ::)");
    }
  }

  /**
   * Restores into a new output relay and registers the restored tree as a workload; the relay is closed
   * again when the restore or the registration fails.
   */
  protected Future<Workload> restoreWorkload(WorkloadSpec spec, String migrationId,
      Function<OutputRelay, Future<Long>> restore) {
    return deps.workloads().openRelay(spec.name())
        .compose(relay -> vertx.executeBlocking(() -> {
              // before the restore, under the id the restored workload will get (its relay's): an agent killed
              // after the registration but before a marker written later left a record its next run kept
              SessionDirs.markUnconfirmed(dir, relay.sink().file().toAbsolutePath().getParent().getFileName()
                  .toString());
              return relay;
            }, false)
            .compose(marked -> restore.apply(relay))
            .compose(pid -> deps.workloads().adoptRestored(spec, pid, migrationId, relay.sink()))
            .onFailure(failure -> vertx.executeBlocking(() -> {
              relay.close();
              return null;
            }, false)));
  }

  /** The restored workload is removed again. */
  @Override
  public Future<Void> undo(MigrationResult result) {
    return deps.workloads().remove(result.workloadId().orElseThrow());
  }
}
