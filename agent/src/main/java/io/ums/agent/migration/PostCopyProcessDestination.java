package io.ums.agent.migration;

import io.ums.agent.criu.CriuRestore;
import io.ums.agent.criu.RestoreGuard;
import io.ums.agent.criu.TcpConnections;
import io.ums.agent.workload.OutputRelay;
import io.ums.agent.workload.WorkingDirectories;
import io.ums.agent.workload.WorkloadSpec;
import io.vertx.core.Future;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A process tree moved post-copy, the destination side (what every post-copy destination shares is
 * {@link LazyRestoreDestination}): the restore starts the lazy-pages daemon and {@code criu restore
 * --lazy-pages}; the workload is registered and runs at once.
 */
final class PostCopyProcessDestination extends LazyRestoreDestination {
  private static final Logger LOG = LoggerFactory.getLogger(PostCopyProcessDestination.class);

  /** Kills the restored tree if this agent dies before the source heard that it runs; disarmed in release. */
  private RestoreGuard restoreGuard;

  PostCopyProcessDestination(ReceiveSession session) {
    super(session);
  }

  @Override
  public Future<MigrationResult> restore(RestoreManifest manifest) {
    String migrationId = beginRestore(manifest);
    WorkloadSpec spec = manifest.specOrEmpty();
    return Future.all(images)
        .compose(ignored -> beforeRestore())
        .compose(ignored -> accepted)
        .compose(ignored -> {
          session.status().phase(MigrationPhase.RESTORING);
          LOG.info("session {} RESTORING (post-copy): {} of migration {}", session.id(), spec.name(), migrationId);
          return restoreWorkload(spec, migrationId, relay -> runRestore(relay, manifest));
        })
        .compose(this::awaitLastPage);
  }

  private Future<Long> runRestore(OutputRelay relay, RestoreManifest manifest) {
    long started = System.nanoTime();
    return vertx.executeBlocking(() -> {
      requireListenAddresses(manifest);
      if (manifest.cwd().isPresent()) {
        WorkingDirectories.recreate(manifest.cwd().get());
      }
      // as for stop-and-copy: an agent dying before the source heard the copy runs (also during the
      // restore, before CRIU wrote its pidfile, which the lazy-pages guard needs) takes the copy with it
      restoreGuard = RestoreGuard.arm(CriuRestore.pidFile(dir));
      return new CriuRestore.Options(dir.resolve("images"), dir, manifest.outputPipeInode(), relay.writeEnd(),
          TcpConnections.allLocal(manifest.tcpLocalAddresses()));
    }, false).compose(options -> postCopy.restore(options, List.of(restoreGuard.pid()))).map(pid -> {
      session.status().timing("restoreMs", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
      return pid;
    });
  }

  @Override
  public void release(boolean failed) {
    if (restoreGuard != null) {
      restoreGuard.disarm(); // handed over, or removed (fenced) by this agent itself
    }
  }
}
