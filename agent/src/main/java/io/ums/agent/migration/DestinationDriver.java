package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The destination side of every migration: a receive session from {@code POST /v1/receive} until what it
 * received runs here (or the session failed and left nothing behind), whatever its {@link DestinationBackend}
 * receives. Runs on the event loop of its data connection.
 *
 * <p>The backend takes the source's channels; the restore request comes last and starts the restore, from
 * which on an abort no longer applies (unless the backend can still undo it). The result goes back to the
 * source; if the source cannot take it (connection gone), the backend undoes the restore so that the workload
 * never runs twice. A failure is reported to the source if it still listens.
 */
final class DestinationDriver extends MigrationDriver implements IncomingMigration, ReceiveSession {
  private static final Logger LOG = LoggerFactory.getLogger(DestinationDriver.class);

  private final DestinationBackend backend;
  private Context context;
  private UmsConnection connection;
  /** An abort that came while restoring, for a backend that can still undo its restore. */
  private MigrationFailure abortWhileRestoring;
  private boolean finishing;
  private boolean restoring;

  DestinationDriver(MigrationDeps deps, String id, Function<ReceiveSession, DestinationBackend> backend) {
    super(deps, id, MigrationStatus.Role.DESTINATION, null);
    this.backend = backend.apply(this);
  }

  @Override
  public UmsConnection connection() {
    return connection;
  }

  @Override
  public boolean finishing() {
    return finishing;
  }

  @Override
  public void beginRestore() {
    restoring = true;
  }

  @Override
  public void attach(UmsConnection opened) {
    context = vertx.getOrCreateContext();
    connection = opened;
    status.phase(MigrationPhase.TRANSFERRING);
    LOG.info("session {} TRANSFERRING: source connected", id);
    MigrationEvents.routeFromSource(opened, this::onChannel, failure -> {
      backend.connectionLost(failure.message());
      fail(failure);
    });
    backend.attached();
  }

  /** Fails the session unless it is already restoring. Callable from any thread. */
  @Override
  public void abort(Code code, String why) {
    MigrationEvents.onContext(context, () -> {
      if (!restoring) {
        fail(MigrationFailure.of(code, why));
      } else if (backend.abortableWhileRestoring()) {
        abortWhileRestoring = MigrationFailure.of(code, why);
      }
    });
  }

  @Override
  public void expire(String why) {
    if (connection == null) {
      fail(MigrationFailure.of(Code.TIMEOUT, why));
    }
  }

  private void onChannel(IncomingChannel channel) {
    if (Channels.RESTORE.equals(channel.kind())) {
      JsonObject manifest = channel.metadata();
      channel.handler(ignored -> { });
      channel.exceptionHandler(failure -> fail(Failures.classify(failure, Code.CONNECTION_LOST)));
      channel.endHandler(ignored -> restore(RestoreManifest.fromJson(manifest)));
    } else if (!backend.accept(channel)) {
      channel.reset(ProtocolError.CANCELLED, "unexpected channel " + channel.kind());
    }
  }

  private void restore(RestoreManifest manifest) {
    if (finishing) {
      return;
    }
    backend.restore(manifest)
        .compose(result -> abortWhileRestoring != null
            ? Future.failedFuture(new MigrationFailure.Exception(abortWhileRestoring)) : report(result))
        .onSuccess(ignored -> finish(MigrationPhase.DONE))
        .onFailure(failure -> {
          restoring = false;
          backend.explain(failure).onComplete(explained -> fail(Failures.classify(explained.result(),
              Code.RESTORE_FAILED)));
        });
  }

  /** Tells the source the workload runs here; if the source cannot hear it, undo the restore. */
  private Future<Void> report(MigrationResult result) {
    result.workloadId().ifPresent(status::destinationWorkloadId);
    result.checkpointImage().ifPresent(status::checkpointImage);
    return ResultChannel.send(connection, result)
        .recover(failure -> {
          LOG.warn("session {}: the source did not take the result ({}); undoing the restore", id,
              failure.getMessage());
          // transform, not eventually: the session must end FAILED (nothing runs here), never DONE
          return backend.undo(result).transform(undone -> Future.failedFuture(
              new MigrationFailure.Exception(Code.SOURCE_GONE, "the source did not acknowledge the restore: "
                  + failure.getMessage())));
        });
  }

  @Override
  public void fail(MigrationFailure failure) {
    if (finishing || restoring) {
      return;
    }
    finishing = true;
    status.error(failure);
    LOG.info("session {}: {} ({})", id, failure.code(), failure.message());
    ResultChannel.sendFailure(connection, failure).onComplete(ignored -> finish(MigrationPhase.FAILED));
  }

  private void finish(MigrationPhase phase) {
    finishing = true;
    boolean failed = phase != MigrationPhase.DONE;
    status.timing("totalMs", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
    if (connection != null) {
      status.bytes("wire", connection.stats().wireBytesReceived());
      status.bytes("raw", connection.stats().payloadBytesReceived());
    }
    backend.countBytes(status);
    if (failed) {
      status.checkpointImage(null);
    }
    status.phase(phase);
    LOG.info("session {} {}: timings {}", id, phase, status.toJson().getJsonObject("timings"));
    Future<Void> closed = connection == null ? Future.succeededFuture() : connection.close();
    closed.otherwiseEmpty()
        .compose(ignored -> backend.quiesce())
        .compose(ignored -> vertx.executeBlocking(() -> {
          backend.release(failed);
          if (backend.logs().isPresent()) {
            SessionDirs.settle(backend.dir(), backend.logs().get(), failed, deps.settings().failureLogs(), id)
                .ifPresent(kept -> LOG.warn("session {}: CRIU logs kept in {}", id, kept));
          } else {
            SessionDirs.delete(backend.dir());
          }
          return null;
        }, false))
        .onComplete(ignored -> done.complete(status.toJson()));
  }
}
