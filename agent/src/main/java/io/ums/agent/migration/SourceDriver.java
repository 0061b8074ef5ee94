package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsClient;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source side of every migration, whatever moves: the lifecycle its {@link SourceBackend} plugs into.
 * Runs on the event loop it was started on.
 *
 * <p>Order: the data connection opens (through the {@link MigrationHooks.DataRoute}) while the session
 * directory is made and the backend prepares; the backend checkpoints and sends; the restore request goes
 * out; the destination's result decides. Only a successful result commits; every failure before that (a
 * step, the connection, the deadline, an abort) rolls back, once. In every outcome the status gets its
 * final phase and timings, what the backend registered is closed and the session directory goes (a failed
 * migration's logs kept).
 */
final class SourceDriver extends MigrationDriver implements OutgoingMigration, SourceSession {
  private static final Logger LOG = LoggerFactory.getLogger(SourceDriver.class);
  /** How often the byte counts of a running migration are refreshed in its status. */
  private static final long PROGRESS_MILLIS = 250;

  /**
   * The destination's data port and the one-time session it prepared, and whether to send under TLS
   * ({@code encrypt}: the send request's destination.encrypt).
   */
  record Destination(String host, int port, String sessionId, Buffer token, boolean encrypt) {
    /**
     * Opens the data connection (to {@code host:port}: the destination, or a test proxy in front of it);
     * a refusal fails with AUTH_FAILED (TLS_REQUIRED: in clear into a session reserved encrypted), anything
     * else with DESTINATION_UNREACHABLE.
     */
    Future<UmsConnection> connect(UmsClient client, String viaHost, int viaPort) {
      return client.connect(viaHost, viaPort, sessionId, token, encrypt)
          .recover(failure -> {
            MigrationFailure classified = Failures.classify(failure, Code.DESTINATION_UNREACHABLE);
            Code code = classified.code() == Code.AUTH_FAILED || classified.code() == Code.TLS_REQUIRED
                ? classified.code() : Code.DESTINATION_UNREACHABLE;
            return Future.failedFuture(new MigrationFailure.Exception(code, "cannot open the data connection to "
                + host + ":" + port + ": " + classified.message()));
          });
    }
  }

  private final Context context;
  private final String what;
  private final Destination destination;
  private final SourceBackend backend;
  private final List<Supplier<Future<?>>> closing = new ArrayList<>();
  private final DestinationVerdict verdict;
  private UmsConnection connection;
  private Future<UmsConnection> connecting;
  private MigrationHooks.Hop hop;
  private Path dir;
  /** The backend's preparation, which writes into the session dir: settled only once it has ended. */
  private Future<Void> prepared = Future.succeededFuture();
  private boolean finishing;
  private boolean closed;
  private long timer = -1;
  private long progressTimer = -1;

  /**
   * {@code subject}: the status's workload id; {@code what}: the moved thing for the log; {@code backend}:
   * makes the backend for this session (see {@link Backends}).
   */
  SourceDriver(MigrationDeps deps, String id, String subject, String what, Destination destination,
               Function<SourceSession, SourceBackend> backend) {
    super(deps, id, MigrationStatus.Role.SOURCE, subject);
    this.context = vertx.getOrCreateContext();
    this.what = what;
    this.destination = destination;
    this.verdict = new DestinationVerdict(vertx);
    this.backend = backend.apply(this);
  }

  @Override
  public Context context() {
    return context;
  }

  @Override
  public UmsConnection connection() {
    return connection;
  }

  @Override
  public Future<UmsConnection> connected() {
    return connecting;
  }

  @Override
  public Path dir() {
    return dir;
  }

  @Override
  public boolean finishing() {
    return finishing;
  }

  @Override
  public void closeOnFinish(Supplier<Future<?>> resource) {
    if (closed) {
      resource.get();
    } else {
      closing.add(resource);
    }
  }

  @Override
  public void start() {
    LOG.info("migration {} PREPARING: {} to {}:{}", id, what, destination.host(), destination.port());
    timer = MigrationEvents.deadline(vertx, deps.settings(), this::fail);
    progressTimer = vertx.setPeriodic(PROGRESS_MILLIS, ignored -> countBytes());
    // the handshake with the destination and the local preparation do not depend on each other:
    // overlapping them shortens every migration
    Future<UmsConnection> connected = connect();
    connecting = connected;
    connected.onSuccess(opened -> {
      if (finishing) {
        opened.close();
      }
    });
    prepared = makeDir().compose(ignored -> backend.prepare());
    Future.all(connected, prepared)
        .compose(ignored -> step(backend::checkpoint))
        .compose(ignored -> step(backend::send))
        .compose(manifest -> connection.openChannel(Channels.RESTORE, manifest.toJson()))
        .compose(OutgoingChannel::end)
        .onSuccess(ignored -> {
          status.phase(MigrationPhase.RESTORING);
          LOG.info("migration {} RESTORING: checkpoint sent, waiting for the destination", id);
        })
        .onFailure(failure -> fail(Failures.classify(failure, Code.INTERNAL)));
  }

  private <T> Future<T> step(Supplier<Future<T>> next) {
    return finishing ? Future.failedFuture(new MigrationFailure.Exception(Code.ABORTED, "migration already ended"))
        : next.get();
  }

  private Future<Void> makeDir() {
    return vertx.executeBlocking(() -> Files.createDirectories(deps.settings().sessionRoot().resolve("send-" + id)),
        false).map(made -> {
          // finish() settles it once the preparation ended, even when the migration ended first
          dir = made;
          return null;
        });
  }

  @Override
  public void abort(Code code, String why) {
    context.runOnContext(ignored -> fail(MigrationFailure.of(code, why)));
  }

  private Future<UmsConnection> connect() {
    return deps.hooks().route().open(vertx, destination.host(), destination.port())
        .compose(opened -> {
          hop = opened;
          return destination.connect(deps.client(), opened.host(), opened.port());
        })
        .onSuccess(opened -> {
          connection = opened;
          MigrationEvents.routeToDestination(opened, this::onPeerChannel, this::failFromPeer);
        });
  }

  private void onPeerChannel(IncomingChannel channel) {
    if (Channels.RESULT.equals(channel.kind())) {
      ResultChannel.receive(channel, result -> onResult(MigrationResult.fromJson(result)),
          failure -> fail(Failures.classify(failure, Code.CONNECTION_LOST)));
    } else if (!backend.onPeerChannel(channel)) {
      channel.reset(ProtocolError.CANCELLED, "unexpected channel " + channel.kind());
    }
  }

  private void onResult(MigrationResult result) {
    if (!result.ok()) {
      verdict.heard(result.failure());
    }
    if (finishing) {
      return;
    }
    if (!result.ok()) {
      fail(result.failure());
      return;
    }
    status.timing("restoreMs", result.restoreMs());
    finishing = true;
    vertx.cancelTimer(timer);
    MigrationHooks.BeforeCommit hook = deps.hooks().beforeCommit();
    Future<Void> held = hook.none() ? Future.succeededFuture() : vertx.executeBlocking(() -> {
      hook.accept(id);
      return null;
    }, false);
    held.transform(ignored -> backend.commit(result)).onComplete(committed -> {
      if (committed.failed()) {
        LOG.warn("migration {}: ending the source's part failed: {}", id, committed.cause().getMessage());
      }
      finish(MigrationPhase.DONE);
    });
  }

  @Override
  public void failFromPeer(MigrationFailure failure) {
    verdict.heard(failure);
    fail(failure);
  }

  @Override
  public void fail(MigrationFailure failure) {
    if (finishing) {
      return;
    }
    finishing = true;
    vertx.cancelTimer(timer);
    status.error(failure);
    LOG.info("migration {}: {} ({}), rolling back", id, failure.code(), failure.message());
    // the connection stays open until finish(): the destination's reason may still be on its way
    backend.rollBack(failure).onComplete(rolledBack -> {
      if (rolledBack.failed()) {
        status.error(Failures.classify(rolledBack.cause(), Code.ROLLBACK_FAILED));
        finish(MigrationPhase.FAILED);
      } else if (rolledBack.result() != MigrationPhase.ROLLED_BACK) {
        finish(rolledBack.result());
      } else {
        verdict.explain(failure).onComplete(explained -> {
          if (explained.result() != failure) {
            LOG.info("migration {}: the destination explains it: {} ({})", id, explained.result().code(),
                explained.result().message());
            status.explainError(explained.result());
          }
          finish(MigrationPhase.ROLLED_BACK);
        });
      }
    });
  }

  private void countBytes() {
    backend.countBytes(status);
    if (connection != null) {
      status.bytes("wire", connection.stats().wireBytesSent());
    }
  }

  private void finish(MigrationPhase phase) {
    vertx.cancelTimer(progressTimer);
    countBytes();
    MigrationEvents.conclude(status, phase, startNanos);
    closed = true;
    List<Future<?>> closings = new ArrayList<>();
    closing.forEach(resource -> closings.add(resource.get()));
    if (hop != null) {
      closings.add(hop.close().get());
    }
    if (connection != null) {
      closings.add(connection.close());
    }
    // a connection refused at once (TLS_REQUIRED, a wrong token) ends the migration while the preparation may
    // still be writing its files: deleting the dir before it ended left them behind
    closings.add(prepared);
    Future.join(closings)
        .eventually(() -> vertx.executeBlocking(() -> {
          Path session = dir;
          if (session != null) {
            SessionDirs.settle(session, session.resolve(backend.logsSubdirectory()), phase != MigrationPhase.DONE,
                deps.settings().failureLogs(), id)
                .ifPresent(kept -> LOG.warn("migration {}: CRIU logs kept in {}", id, kept));
          }
          return null;
        }, false))
        .onComplete(ignored -> done.complete(status.toJson()));
  }
}
