package io.ums.agent.migration;

import io.ums.agent.criu.CriuPageServer;
import io.ums.agent.criu.CriuRestore;
import io.ums.agent.criu.ProcessTree;
import io.ums.agent.criu.RestoreGuard;
import io.ums.agent.criu.TcpConnections;
import io.ums.agent.dataplane.PageServerConnector;
import io.ums.agent.migration.MigrationFailure.Code;
import io.ums.agent.workload.OutputRelay;
import io.ums.agent.workload.Workload;
import io.ums.agent.workload.WorkloadSpec;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The destination side of one migration: a receive session from {@code POST /v1/receive} until the
 * restored workload runs here (or the session failed and left nothing behind). Runs on the event loop of
 * its data connection.
 *
 * <p>Pages arrive on a channel that is piped into a local {@code criu page-server} writing into the
 * session's tmpfs directory (its answers go back on a channel of our own); image files arrive on their
 * own channels; the restore request comes last. Then {@code criu restore -d} into a fresh PID namespace,
 * its output on a new relay pipe, and the workload is registered. The result goes back to the source; if
 * the source cannot take it (connection gone), the restored copy is killed again so that the workload
 * never runs twice.
 */
final class DestinationSession implements IncomingMigration {
  private static final Logger LOG = LoggerFactory.getLogger(DestinationSession.class);
  private static final long PAGE_SERVER_CONNECT_MILLIS = 10_000;
  private static final long PAGE_SERVER_EXIT_MILLIS = 30_000;
  private static final int PAGE_SERVER_WRITE_QUEUE = 1024 * 1024;

  private final MigrationDeps deps;
  private final Vertx vertx;
  private final String id;
  private final MigrationStatus status;
  private final Promise<JsonObject> done = Promise.promise();
  private final Promise<Void> pagesReceived = Promise.promise();
  private final List<Future<Void>> images = new ArrayList<>();
  private final Path dir;
  private final long startNanos = System.nanoTime();
  private Context context;
  private UmsConnection connection;
  private Future<Integer> pageServerPort;
  private Process pageServer;
  private Future<Integer> pageServerExit;
  private String restoredWorkloadId;
  private IncomingChannel pagesChannel;
  private ContainerReceiver container;
  private boolean finishing;
  private boolean restoring;
  /** Kills the restored tree if this agent dies before the source heard that it runs; disarmed in finish. */
  private RestoreGuard restoreGuard;
  /** Whether the restore kept the TCP connections live (the source resets them otherwise). */
  private boolean tcpEstablished;

  DestinationSession(MigrationDeps deps, String id) {
    this.deps = deps;
    this.vertx = deps.vertx();
    this.id = id;
    this.status = new MigrationStatus(id, MigrationStatus.Role.DESTINATION, null);
    this.dir = deps.settings().sessionRoot().resolve("recv-" + id);
  }

  @Override
  public MigrationStatus status() {
    return status;
  }

  @Override
  public Future<JsonObject> completion() {
    return done.future();
  }

  @Override
  public void attach(UmsConnection opened) {
    context = vertx.getOrCreateContext();
    connection = opened;
    status.phase(MigrationPhase.TRANSFERRING);
    LOG.info("session {} TRANSFERRING: source connected", id);
    MigrationEvents.routeFromSource(opened, this::onChannel, this::fail);
    pageServerPort = vertx.executeBlocking(() -> {
      Files.createDirectories(dir.resolve("images"));
      int port = CriuPageServer.freePort(deps.localHost());
      pageServer = CriuPageServer.start(deps.criu(), dir.resolve("images"), dir, deps.localHost(), port);
      return port;
    }, false);
    pageServerExit = pageServerPort.compose(port -> vertx.executeBlocking(pageServer::waitFor, false));
    pageServerPort.onFailure(failure -> fail(MigrationFailure.of(Code.PAGE_SERVER_FAILED,
        "cannot start criu page-server: " + failure.getMessage())));
  }

  /** Fails the session unless it is already restoring. Callable from any thread. */
  @Override
  public void abort(Code code, String why) {
    Runnable action = () -> {
      if (!restoring) {
        fail(MigrationFailure.of(code, why));
      }
    };
    MigrationEvents.onContext(context, action);
  }

  private void onChannel(IncomingChannel channel) {
    switch (channel.kind()) {
      case MigrationChannels.PAGES -> relayPages(channel);
      case MigrationChannels.IMAGE -> images.add(ImageFiles.receive(vertx, channel, dir.resolve("images"))
          .onFailure(failure -> failExplained(failure, Code.CONNECTION_LOST)));
      case MigrationChannels.RESTORE -> {
        JsonObject manifest = channel.metadata();
        channel.handler(ignored -> { });
        channel.exceptionHandler(failure -> fail(Failures.classify(failure, Code.CONNECTION_LOST)));
        channel.endHandler(ignored -> restore(manifest));
      }
      default -> {
        if (!containerReceiver().accept(channel)) {
          channel.reset(ProtocolError.CANCELLED, "unexpected channel " + channel.kind());
        }
      }
    }
  }

  private ContainerReceiver containerReceiver() {
    if (container == null) {
      container = new ContainerReceiver(deps, id, connection, dir,
          failure -> failExplained(failure, Code.PROTOCOL_ERROR));
    }
    return container;
  }

  private void relayPages(IncomingChannel pages) {
    pagesChannel = pages;
    pages.pause();
    pageServerPort
        .compose(port -> PageServerConnector.connect(vertx, deps.localHost(), port, PAGE_SERVER_CONNECT_MILLIS))
        .onSuccess(socket -> {
          // a roomier queue than the socket default (64 KiB) keeps the page stream from stalling on
          // every few frames; still bounded, and credit stops the source when the page server is slow
          socket.setWriteQueueMaxSize(PAGE_SERVER_WRITE_QUEUE);
          pages.pipeTo(socket).onComplete(pagesReceived);
          connection.openChannel(MigrationChannels.PAGES_REPLY, new JsonObject())
              .onSuccess(reply -> socket.pipeTo(reply))
              .onFailure(pagesReceived::tryFail);
        })
        .onFailure(failure -> {
          pages.reset(ProtocolError.CANCELLED, "page server unavailable");
          pagesReceived.tryFail(new MigrationFailure.Exception(Code.PAGE_SERVER_FAILED, failure.getMessage()));
        });
    pagesReceived.future().onFailure(failure -> failExplained(failure, Code.CONNECTION_LOST));
  }

  private void restore(JsonObject manifest) {
    if (finishing) {
      return;
    }
    restoring = true;
    WorkloadSpec spec = WorkloadSpecJson.decode(manifest.getJsonObject("spec", new JsonObject()));
    status.workloadId(manifest.getString("sourceWorkloadId"));
    Optional<Long> outputPipe = Optional.ofNullable(manifest.getLong("outputPipeInode"));
    String migrationId = manifest.getString("migrationId", id);
    Future<Void> received = ContainerReceiver.bringsOwnPages(spec) ? Future.all(images).mapEmpty()
        : Future.all(images).compose(ignored -> pagesReceived.future())
        .compose(ignored -> pageServerExit.timeout(PAGE_SERVER_EXIT_MILLIS, TimeUnit.MILLISECONDS))
        .compose(code -> code == 0 ? Future.succeededFuture() : Future.failedFuture(
            new MigrationFailure.Exception(Code.PAGE_SERVER_FAILED, "criu page-server failed (exit " + code
                + "): " + CriuPageServer.errors(dir))));
    received
        .compose(ignored -> vertx.executeBlocking(() -> {
          dropImageForTest();
          return null;
        }, false))
        .compose(ignored -> {
          status.phase(MigrationPhase.RESTORING);
          LOG.info("session {} RESTORING: {} of migration {}", id, spec.name(), migrationId);
          if (WorkloadSpec.KIND_CONTAINER.equals(spec.kind())) {
            return containerReceiver().restore(spec, migrationId, status);
          }
          return deps.workloads().openRelay(spec.name())
              .compose(relay -> runRestore(relay, outputPipe, strings(manifest, "tcpLocalAddresses"),
                strings(manifest, "tcpListenAddresses"))
                  .compose(pid -> deps.workloads().adoptRestored(spec, pid, migrationId, relay.sink()))
                  .onFailure(failure -> vertx.executeBlocking(() -> {
                    relay.close();
                    return null;
                  }, false)));
        })
        .compose(this::report)
        .onSuccess(ignored -> finish(MigrationPhase.DONE))
        .onFailure(failure -> {
          restoring = false;
          failExplained(failure, Code.RESTORE_FAILED);
        });
  }

  private static List<String> strings(JsonObject manifest, String key) {
    return manifest.getJsonArray(key, new JsonArray()).stream().map(String::valueOf).toList();
  }

  private Future<Long> runRestore(OutputRelay relay, Optional<Long> outputPipe, List<String> tcpLocalAddresses,
                                  List<String> tcpListenAddresses) {
    long started = System.nanoTime();
    return vertx.executeBlocking(() -> {
      // CRIU would fail with "Can't bind inet socket: Cannot assign requested address", naming no address
      List<String> missing = tcpListenAddresses.stream().filter(address -> !TcpConnections.allLocal(List.of(address)))
          .toList();
      if (!missing.isEmpty()) {
        throw new MigrationFailure.Exception(Code.RESTORE_FAILED, "the workload listens on " + String.join(", ",
            missing) + ", which node " + deps.node() + " does not have; it can only move to a node with that"
            + " address (or listen on 0.0.0.0 / ::)");
      }
      // see TcpConnections: connections go on only where their local addresses exist
      tcpEstablished = TcpConnections.allLocal(tcpLocalAddresses);
      LOG.info("session {}: TCP connections with local addresses {} restored {}", id, tcpLocalAddresses,
          tcpEstablished ? "established" : "closed (--tcp-close)");
      CriuRestore.Options options = new CriuRestore.Options(dir.resolve("images"), dir, outputPipe,
          relay.writeEnd(), tcpEstablished);
      restoreGuard = RestoreGuard.arm(CriuRestore.pidFile(dir));
      long pid = CriuRestore.run(deps.criu(), options, deps.settings().restoreTimeout().toMillis());
      if (!ProcessTree.running(pid)) {
        throw new MigrationFailure.Exception(Code.RESTORE_FAILED, "restored pid " + pid + " is not running");
      }
      status.timing("restoreMs", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
      return pid;
    }, false);
  }

  private void dropImageForTest() throws java.io.IOException {
    Optional<String> drop = deps.settings().dropImage();
    if (drop.isPresent()) {
      LOG.warn("session {}: test hook ums.test.dropImage removes {} before the restore", id, drop.get());
      Files.deleteIfExists(dir.resolve("images").resolve(drop.get()));
    }
  }

  /** Tells the source the workload runs here; if the source cannot hear it, undo the restore. */
  private Future<Void> report(Workload restored) {
    restoredWorkloadId = restored.id();
    status.destinationWorkloadId(restored.id());
    JsonObject result = new JsonObject().put("workloadId", restored.id())
        .put("restoreMs", status.timing("restoreMs"))
        .put("tcpConnections", tcpEstablished ? "established" : "closed");
    return ResultChannel.send(connection, result)
        .recover(failure -> {
          LOG.warn("session {}: the source did not take the result ({}); removing restored workload {}", id,
              failure.getMessage(), restored.id());
          return deps.workloads().remove(restored.id()).eventually(() -> Future.failedFuture(
              new MigrationFailure.Exception(Code.SOURCE_GONE, "the source did not acknowledge the restore: "
                  + failure.getMessage())));
        });
  }

  /** Fails the session, saying so when the cause is a full session directory rather than what broke next. */
  private void failExplained(Throwable failure, Code fallback) {
    DestinationDisk.explain(deps, dir, failure).onComplete(explained -> fail(Failures.classify(explained.result(),
        fallback)));
  }

  private void fail(MigrationFailure failure) {
    if (finishing || restoring) {
      return;
    }
    finishing = true;
    status.error(failure);
    LOG.info("session {}: {} ({})", id, failure.code(), failure.message());
    ResultChannel.sendFailure(connection, failure).onComplete(ignored -> finish(MigrationPhase.FAILED));
  }

  @Override
  public void expire(String why) {
    if (connection == null) {
      fail(MigrationFailure.of(Code.TIMEOUT, why));
    }
  }

  private void finish(MigrationPhase phase) {
    finishing = true;
    status.timing("totalMs", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
    if (connection != null) {
      status.bytes("wire", connection.stats().wireBytesReceived());
      status.bytes("raw", connection.stats().payloadBytesReceived());
    }
    if (pagesChannel != null) {
      status.bytes("pages", pagesChannel.bytesReceived());
    }
    status.phase(phase);
    LOG.info("session {} {}: timings {}", id, phase, status.toJson().getJsonObject("timings"));
    Future<Void> closed = connection == null ? Future.succeededFuture() : connection.close();
    closed.otherwiseEmpty()
        .compose(ignored -> container == null ? Future.succeededFuture() : container.quiesce())
        .compose(ignored -> vertx.executeBlocking(() -> {
          if (restoreGuard != null) {
            restoreGuard.disarm(); // handed over, or removed by this agent itself
          }
          if (pageServer != null && pageServer.isAlive()) {
            pageServer.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
          }
          if (container != null && phase != MigrationPhase.DONE) {
            container.discard();
          }
          SessionDirs.settle(dir, dir, phase != MigrationPhase.DONE, deps.settings().failureLogs(), id)
              .ifPresent(kept -> LOG.warn("session {}: CRIU logs kept in {}", id, kept));
          return null;
        }, false))
        .onComplete(ignored -> done.complete(status.toJson()));
  }

  /** The id under which the restored workload runs here, once it does. */
  Optional<String> restoredWorkloadId() {
    return Optional.ofNullable(restoredWorkloadId);
  }
}
