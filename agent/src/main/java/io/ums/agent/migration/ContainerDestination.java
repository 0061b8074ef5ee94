package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.workload.WorkloadSpec;
import io.ums.protocol.IncomingChannel;
import io.vertx.core.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A runc or podman container (interfaces runc and pind), the destination side: the container channels go to
 * a {@link ContainerReceiver} (image offer, layers, runtime files, the writable layer, podman's archive), the
 * pages and image files of a runc checkpoint to the CRIU part every checkpoint shares; the restore rebuilds
 * the bundle from the store and restores it with the container's runtime. A failed session removes the
 * layers and the image it added.
 */
final class ContainerDestination extends CriuDestination {
  private static final Logger LOG = LoggerFactory.getLogger(ContainerDestination.class);

  private ContainerReceiver receiver;

  ContainerDestination(ReceiveSession session) {
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
    // podman's archive carries the pages itself; runc's checkpoint sent them through the page server
    Future<Void> received = ContainerReceiver.bringsOwnPages(spec) ? imagesReceived() : checkpointReceived();
    return received
        .compose(ignored -> beforeRestore())
        .compose(ignored -> {
          session.status().phase(MigrationPhase.RESTORING);
          LOG.info("session {} RESTORING: {} of migration {}", session.id(), spec.name(), migrationId);
          return receiver.restore(spec, migrationId, session.status());
        })
        .map(this::restored);
  }

  @Override
  public Future<Void> quiesce() {
    return receiver == null ? super.quiesce() : super.quiesce().eventually(receiver::quiesce);
  }

  @Override
  public void release(boolean failed) {
    if (receiver != null) {
      receiver.disarm(); // handed over, or removed by this agent itself
    }
    super.release(failed);
    if (receiver != null && failed) {
      receiver.discard();
    }
  }
}
