package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.stopped.StoppedContainers;
import io.vertx.core.Future;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pod's container moved consistently through its kubelet (interface kubelet-consistent), the source side:
 * the kubelet's checkpoint as in {@link KubeletSource}, but the node's runtime leaves the container stopped
 * after it (CRIU's leave-stopped: the processes detach with SIGSTOP, before running another instruction), and
 * it stays stopped until the switch. Nothing the container does after its checkpoint can be lost, because it
 * does nothing. A rollback resumes it (SIGCONT: its TCP connections are still there); the commit leaves it
 * stopped, handed to {@link StoppedContainers} until the coordinator kills it (the destination pod is Ready)
 * or resumes it (it is not), or the hold expires.
 *
 * <p>A backend of its own, not a flag of {@link KubeletSource}: its rollback brings the source back
 * (ROLLED_BACK, where the copy's ends FAILED with nothing to undo) and its commit hands the container on.
 */
final class ConsistentKubeletSource implements SourceBackend {
  private static final Logger LOG = LoggerFactory.getLogger(ConsistentKubeletSource.class);

  private final SourceSession session;
  private final KubeletSource checkpoint;
  private final String containerId;
  private final Duration hold;
  private final StoppedContainers stopped;
  private boolean claimed;
  private long stoppedSinceNanos;

  ConsistentKubeletSource(SourceSession session, KubeletSource checkpoint, String containerId, Duration hold,
                          StoppedContainers stopped) {
    this.session = session;
    this.checkpoint = checkpoint;
    this.containerId = containerId;
    this.hold = hold;
    this.stopped = stopped;
  }

  /** Claims the container (recorded before anything stops it), checkpoints it, checks it stayed stopped. */
  @Override
  public Future<Void> prepare() {
    return stopped.claim(containerId, session.id())
        .recover(failure -> Future.failedFuture(new MigrationFailure.Exception(Code.KUBELET_NOT_FOUND,
            "cannot hold container " + containerId + ": " + failure.getMessage())))
        .compose(held -> {
          claimed = true;
          stoppedSinceNanos = System.nanoTime();
          return checkpoint.prepare();
        })
        .compose(ignored -> stopped.verifyStopped(containerId)
            .recover(failure -> Future.failedFuture(new MigrationFailure.Exception(Code.KUBELET_FAILED,
                failure.getMessage()))))
        .onSuccess(ignored -> LOG.info("migration {}: container {} stopped at its checkpoint", session.id(),
            containerId));
  }

  @Override
  public Future<Void> checkpoint() {
    return checkpoint.checkpoint();
  }

  @Override
  public Future<RestoreManifest> send() {
    return checkpoint.send();
  }

  /** The destination imported the checkpoint: the container stays stopped until the switch is settled. */
  @Override
  public Future<Void> commit(MigrationResult result) {
    session.status().timing("freezeMs", MigrationEvents.millis(stoppedSinceNanos, System.nanoTime()));
    return checkpoint.commit(result).compose(ignored -> stopped.awaitSwitch(containerId, hold));
  }

  /** The container goes on where it stopped (it stopped only if the checkpoint got that far). */
  @Override
  public Future<MigrationPhase> rollBack(MigrationFailure failure) {
    if (!claimed) {
      return checkpoint.rollBack(failure);
    }
    return checkpoint.rollBack(failure)
        .compose(ignored -> stopped.resume(containerId, failure.code() + ": " + failure.message()))
        .map(resumed -> MigrationPhase.ROLLED_BACK);
  }

  @Override
  public void countBytes(MigrationStatus status) {
    checkpoint.countBytes(status);
  }
}
