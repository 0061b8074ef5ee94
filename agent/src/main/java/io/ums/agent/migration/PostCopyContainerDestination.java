package io.ums.agent.migration;

import io.ums.agent.container.Runc;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.workload.Workload;
import io.ums.agent.workload.WorkloadSpec;
import io.ums.protocol.IncomingChannel;
import io.vertx.core.Future;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A runc container moved post-copy (interface runc, mode post-copy), the destination side: the container
 * channels (image offer, layers, runc's descriptors, the writable layer) go to a {@link ContainerReceiver} as
 * for stop-and-copy, the small images and the page stream to what every post-copy destination shares
 * ({@link LazyRestoreDestination}); the restore starts the lazy-pages daemon, then rebuilds the bundle and
 * runs {@code runc restore --lazy-pages} with the session directory as runc's work path (where the daemon's
 * socket is): the container runs at once, its memory follows. A failed session removes the layers and the
 * image it added.
 */
final class PostCopyContainerDestination extends LazyRestoreDestination {
  private static final Logger LOG = LoggerFactory.getLogger(PostCopyContainerDestination.class);

  private ContainerReceiver receiver;

  PostCopyContainerDestination(ReceiveSession session) {
    super(session);
  }

  @Override
  public void attached() {
    super.attached();
    receiver = new ContainerReceiver(deps, session.id(), session.connection(), dir,
        failure -> failExplained(failure, Code.PROTOCOL_ERROR));
  }

  @Override
  public boolean accept(IncomingChannel channel) {
    return super.accept(channel) || receiver.accept(channel);
  }

  @Override
  public Future<MigrationResult> restore(RestoreManifest manifest) {
    String migrationId = beginRestore(manifest);
    WorkloadSpec spec = manifest.specOrEmpty();
    if (ContainerReceiver.bringsOwnPages(spec)) {
      return Future.failedFuture(new MigrationFailure.Exception(Code.PROTOCOL_ERROR,
          "post-copy moves runc containers, not " + spec.runtime() + " ones"));
    }
    Workload[] restored = new Workload[1];
    return Future.all(images)
        .compose(ignored -> beforeRestore())
        .compose(ignored -> accepted)
        // armed before the lazy-pages daemon starts, which outlives it (see RestoreGuard, Tether)
        .compose(ignored -> vertx.executeBlocking(() -> receiver.armRuncGuard(true), false))
        .compose(guard -> {
          session.status().phase(MigrationPhase.RESTORING);
          LOG.info("session {} RESTORING (post-copy): {} of migration {}", session.id(), spec.name(), migrationId);
          return postCopy.restore(Runc.restoredPidFile(dir), List.of(guard), () -> receiver.restore(spec, migrationId,
              session.status(), true).map(workload -> {
                restored[0] = workload;
                return workload.pid();
              }));
        })
        .compose(pid -> awaitLastPage(restored[0]));
  }

  @Override
  public Future<Void> quiesce() {
    return receiver == null ? super.quiesce() : super.quiesce().eventually(receiver::quiesce);
  }

  @Override
  public void release(boolean failed) {
    if (receiver != null) {
      receiver.disarm(); // handed over, or removed by this agent itself
      if (failed) {
        receiver.discard();
      }
    }
  }
}
