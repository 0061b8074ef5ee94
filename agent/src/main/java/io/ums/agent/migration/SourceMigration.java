package io.ums.agent.migration;

import io.ums.agent.criu.ClientConnections;
import io.ums.agent.criu.CriuDump;
import io.ums.agent.criu.NetworkLockRules;
import io.ums.agent.criu.PostDumpGate;
import io.ums.agent.criu.ProcessTree;
import io.ums.agent.criu.TcpConnections;
import io.ums.agent.criu.UnmovableFiles;
import io.ums.agent.dataplane.CorruptingProxy;
import io.ums.agent.dataplane.DumpPageSocket;
import io.ums.agent.migration.MigrationFailure.Code;
import io.ums.agent.workload.Workload;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsClient;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source side of one stop-and-copy migration. Runs on the event loop it was started on.
 *
 * <p>Order: connect to the destination's data port while the local side is prepared; start
 * {@code criu dump} with its page server pointed at a local {@link DumpPageSocket} whose bytes go straight
 * into a "pages" channel; when CRIU reaches the {@link PostDumpGate} (all pages sent, tasks still frozen)
 * send the image files and the restore request;
 * wait for the destination's result. Only a successful result commits: CRIU ends with the tasks stopped
 * and the agent kills them. Every failure before that tells the gate "rollback", and CRIU itself unlocks
 * the network and resumes the tasks; if CRIU cannot (it died), the agent removes the lock rules and sends
 * SIGCONT.
 */
final class SourceMigration implements OutgoingMigration {
  private static final Logger LOG = LoggerFactory.getLogger(SourceMigration.class);
  private static final long DUMP_EXIT_WAIT_MILLIS = 15_000;
  /** How often the byte counts of a running migration are refreshed in its status. */
  private static final long PROGRESS_MILLIS = 250;

  /** Where to send, and whether under TLS ({@code encrypt}: the send request's destination.encrypt). */
  record Destination(String host, int port, String sessionId, Buffer token, boolean encrypt) {
    /**
     * Opens the data connection (to {@code host:port}: the destination, or a test proxy in front of it);
     * a refusal fails with AUTH_FAILED, anything else with DESTINATION_UNREACHABLE.
     */
    Future<UmsConnection> connect(UmsClient client, String viaHost, int viaPort) {
      return client.connect(viaHost, viaPort, sessionId, token, encrypt)
          .recover(failure -> {
            MigrationFailure classified = Failures.classify(failure, Code.DESTINATION_UNREACHABLE);
            Code code = classified.code() == Code.AUTH_FAILED ? Code.AUTH_FAILED : Code.DESTINATION_UNREACHABLE;
            return Future.failedFuture(new MigrationFailure.Exception(code, "cannot open the data connection to "
                + host + ":" + port + ": " + classified.message()));
          });
    }
  }

  private final MigrationDeps deps;
  private final Vertx vertx;
  private final Context context;
  private final String id;
  private final Workload workload;
  private final Destination destination;
  private final boolean keep;
  private final MigrationStatus status;
  private final Promise<JsonObject> done = Promise.promise();
  private final DestinationVerdict verdict;
  private final long startNanos = System.nanoTime();
  private long freezeStartNanos = -1;

  private Path scratch;
  private Optional<Long> outputPipe = Optional.empty();
  private Set<String> lockRulesBefore = Set.of();
  private Set<String> tcpLocalAddresses = Set.of();
  private Set<String> tcpListenAddresses = Set.of();
  private MovedConnections connections = MovedConnections.none();
  private CorruptingProxy proxy;
  private UmsConnection connection;
  private PostDumpGate gate;
  private DumpPageSocket pageSocket;
  private PageStreamRelay pages;
  private Process dumpProcess;
  private Future<Integer> dumpExit;
  private long imageBytes;
  private long timer = -1;
  private long progressTimer = -1;
  private boolean finishing;

  SourceMigration(MigrationDeps deps, String id, Workload workload, Destination destination, boolean keep) {
    this.deps = deps;
    this.vertx = deps.vertx();
    this.context = vertx.getOrCreateContext();
    this.id = id;
    this.workload = workload;
    this.destination = destination;
    this.keep = keep;
    this.status = new MigrationStatus(id, MigrationStatus.Role.SOURCE, workload.id());
    this.verdict = new DestinationVerdict(vertx);
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
  public void start() {
    LOG.info("migration {} PREPARING: workload {} (pid {}) to {}:{}", id, workload.id(), workload.pid(),
        destination.host(), destination.port());
    timer = MigrationEvents.deadline(vertx, deps.settings(), this::fail);
    progressTimer = vertx.setPeriodic(PROGRESS_MILLIS, ignored -> countBytes());
    // the handshake with the destination and the local preparation (sockets, process tree, lock rules:
    // a few process spawns) do not depend on each other: overlapping them shortens every migration
    Future<UmsConnection> connected = connect();
    Future<Void> prepared = prepare();
    connected.onSuccess(opened -> {
      if (finishing) {
        opened.close();
      }
    });
    prepared.onComplete(ignored -> {
      if (finishing) {
        releaseLatePreparation();
      }
    });
    Future.all(connected, prepared).compose(ignored -> relayPages()).compose(ignored -> dump())
        .onFailure(failure -> fail(Failures.classify(failure, Code.INTERNAL)));
  }

  /** What a preparation that ended after the migration had already failed left open. */
  private void releaseLatePreparation() {
    if (gate != null) {
      gate.close();
    }
    if (pageSocket != null) {
      pageSocket.close();
    }
    Path dir = scratch;
    if (dir != null) {
      vertx.executeBlocking(() -> {
        SessionDirs.delete(dir);
        return null;
      }, false);
    }
  }

  private Future<Void> relayPages() {
    pageSocket.accepted().onSuccess(pages::dumpConnected);
    pages.sent().onFailure(failure -> failFromPeer(Failures.classify(failure, Code.CONNECTION_LOST)));
    return Future.succeededFuture();
  }

  @Override
  public void abort(MigrationFailure.Code code, String why) {
    context.runOnContext(ignored -> fail(MigrationFailure.of(code, why)));
  }

  private Future<UmsConnection> connect() {
    Future<String> host = Future.succeededFuture(destination.host());
    Future<Integer> port = Future.succeededFuture(destination.port());
    if (deps.settings().corruptWireByteAt().isPresent()) {
      Future<CorruptingProxy> started = CorruptingProxy.start(vertx, destination.host(), destination.port(),
          deps.settings().corruptWireByteAt().get());
      host = started.map("127.0.0.1");
      port = started.map(started0 -> {
        proxy = started0;
        return started0.port();
      });
    }
    Future<String> hostFuture = host;
    return port.compose(actualPort -> destination.connect(deps.client(), hostFuture.result(), actualPort))
        .onSuccess(opened -> {
          connection = opened;
          pages = new PageStreamRelay(opened, workload.id());
          MigrationEvents.routeToDestination(opened, this::onPeerChannel, this::failFromPeer);
        });
  }

  private Future<Void> prepare() {
    return PostDumpGate.listen(vertx, deps.localHost())
        .compose(opened -> {
          gate = opened;
          return DumpPageSocket.listen(vertx, deps.localHost());
        })
        .compose(opened -> {
          pageSocket = opened;
          return vertx.executeBlocking(() -> {
            scratch = Files.createDirectories(deps.settings().sessionRoot().resolve("send-" + id));
            Files.createDirectories(scratch.resolve("images"));
            outputPipe = ProcessTree.pipeInode(workload.pid(), 1);
            List<Long> tree = ProcessTree.members(workload.pid());
            UnmovableFiles.find(tree).ifPresent(why -> {
              throw new MigrationFailure.Exception(Code.UNMOVABLE_RESOURCE, "workload " + workload.id()
                  + " cannot move: " + why);
            });
            tcpLocalAddresses = TcpConnections.localAddresses(tree);
            tcpListenAddresses = TcpConnections.listeningAddresses(tree);
            connections = new MovedConnections(ClientConnections.of(tree));
            lockRulesBefore = new NetworkLockRules(deps.criu().wrapper()).snapshot();
            gate.writeScript(scratch, deps.settings().migrationTimeout().plusMinutes(1));
            return null;
          }, false);
        });
  }

  private Future<Void> dump() {
    if (finishing) {
      return Future.succeededFuture();
    }
    status.phase(MigrationPhase.CHECKPOINTING);
    CriuDump.Options options = dumpOptions();
    Future<Process> launched = vertx.executeBlocking(() -> {
      freezeStartNanos = System.nanoTime();
      return CriuDump.start(deps.criu(), options);
    }, false);
    dumpExit = launched.compose(process -> {
      dumpProcess = process;
      return vertx.executeBlocking(process::waitFor, false);
    });
    dumpExit.onSuccess(code -> {
      if (code != 0 && !finishing) {
        fail(MigrationFailure.of(Code.DUMP_FAILED, "criu dump failed (exit " + code + "): "
            + CriuDump.errors(options)));
      }
    });
    gate.dumped().onSuccess(ignored -> onDumped());
    LOG.info("migration {} CHECKPOINTING: criu dump of pid {}", id, workload.pid());
    return launched.mapEmpty();
  }

  private CriuDump.Options dumpOptions() {
    return new CriuDump.Options(workload.pid(), scratch.resolve("images"), scratch, deps.localHost(),
        pageSocket.port(), scratch.resolve("post-dump-gate.sh"), keep);
  }

  private void onPeerChannel(IncomingChannel channel) {
    switch (channel.kind()) {
      case MigrationChannels.PAGES_REPLY -> pages.replyChannel(channel);
      case MigrationChannels.RESULT -> ResultChannel.receive(channel, this::onResult,
          failure -> fail(Failures.classify(failure, Code.CONNECTION_LOST)));
      default -> channel.reset(ProtocolError.CANCELLED, "unexpected channel " + channel.kind());
    }
  }

  private void onDumped() {
    if (finishing) {
      return;
    }
    long now = System.nanoTime();
    status.timing("dumpMs", MigrationEvents.millis(freezeStartNanos, now));
    status.timing("freezeMs", MigrationEvents.millis(freezeStartNanos, pages.connectedNanos()));
    if (keep) {
      // a copy: CRIU resumes the source (--leave-running) as soon as the gate lets go
      gate.commit();
    }
    status.phase(MigrationPhase.TRANSFERRING);
    LOG.info("migration {} TRANSFERRING: dump complete after {} ms, sending images", id, status.timing("dumpMs"));
    pages.sent()
        .compose(ignored -> vertx.executeBlocking(() -> ImageFiles.list(scratch.resolve("images")), false))
        .compose(files -> ImageFiles.send(vertx, connection, files))
        .compose(bytes -> {
          imageBytes = bytes;
          countBytes();
          status.timing("transferMs", MigrationEvents.millis(pages.connectedNanos(), System.nanoTime()));
          return connection.openChannel(MigrationChannels.RESTORE, manifest());
        })
        .compose(OutgoingChannel::end)
        .onSuccess(ignored -> {
          status.phase(MigrationPhase.RESTORING);
          LOG.info("migration {} RESTORING: images sent, waiting for the destination", id);
        })
        .onFailure(failure -> failFromPeer(Failures.classify(failure, Code.CONNECTION_LOST)));
  }

  private JsonObject manifest() {
    JsonObject manifest = new JsonObject()
        .put("migrationId", id)
        .put("sourceNode", deps.node())
        .put("sourceWorkloadId", workload.id())
        .put("spec", WorkloadSpecJson.encode(workload.spec()))
        // the destination restores the connections established only if it has all these addresses
        .put("tcpLocalAddresses", new JsonArray(List.copyOf(tcpLocalAddresses)))
        // a listener bound to an address the destination lacks cannot be restored there
        .put("tcpListenAddresses", new JsonArray(List.copyOf(tcpListenAddresses)));
    outputPipe.ifPresent(inode -> manifest.put("outputPipeInode", inode));
    return manifest;
  }

  private void onResult(JsonObject result) {
    if (!result.getBoolean("ok", false)) {
      verdict.heard(MigrationFailure.fromJson(result.getJsonObject("error", new JsonObject())));
    }
    if (finishing) {
      return;
    }
    if (!result.getBoolean("ok", false)) {
      fail(MigrationFailure.fromJson(result.getJsonObject("error", new JsonObject())));
      return;
    }
    status.timing("restoreMs", result.getLong("restoreMs", -1L));
    status.timing("downtimeMs", MigrationEvents.millis(freezeStartNanos, System.nanoTime()));
    status.destinationWorkloadId(result.getString("workloadId"));
    connections.restoredAs(result);
    commit();
  }

  private void commit() {
    finishing = true;
    vertx.cancelTimer(timer);
    LOG.info("migration {}: destination runs workload {}, committing", id, status.toJson()
        .getString("destinationWorkloadId"));
    if (!keep) {
      gate.commit();
    }
    dumpExit.timeout(DUMP_EXIT_WAIT_MILLIS, TimeUnit.MILLISECONDS)
        .recover(failure -> Future.succeededFuture(-1))
        .compose(code -> {
          deps.workloads().endMigration(workload.id());
          return keep ? Future.succeededFuture() : vertx.executeBlocking(this::resetClosedConnections, false)
              .otherwiseEmpty().compose(ignored -> deps.workloads().remove(workload.id()));
        })
        .eventually(() -> vertx.executeBlocking(this::unlockConnections, false))
        .onComplete(removed -> {
          if (removed.failed()) {
            LOG.warn("migration {}: removing the source workload failed: {}", id, removed.cause().getMessage());
          }
          finish(MigrationPhase.DONE);
        });
  }

  /** A failure the data connection reported: it may explain a failure already seen here. */
  private void failFromPeer(MigrationFailure failure) {
    verdict.heard(failure);
    fail(failure);
  }

  private void fail(MigrationFailure failure) {
    if (finishing) {
      return;
    }
    finishing = true;
    vertx.cancelTimer(timer);
    status.error(failure);
    LOG.info("migration {}: {} ({}), rolling back", id, failure.code(), failure.message());
    if (gate != null) {
      gate.rollback();
    }
    if (pageSocket != null) {
      pageSocket.close();
    }
    if (pages != null) {
      pages.reset(failure.message());
    }
    // the connection stays open until finish(): the destination's reason may still be on its way
    Future<Integer> exited = dumpExit == null ? Future.succeededFuture(0) : dumpExit
        .timeout(DUMP_EXIT_WAIT_MILLIS, TimeUnit.MILLISECONDS)
        .recover(timeout -> vertx.executeBlocking(() -> {
          LOG.warn("migration {}: criu dump did not end, killing it", id);
          if (dumpProcess != null) {
            dumpProcess.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
          }
          return -1;
        }, false));
    exited.recover(ignored -> Future.succeededFuture(-1))
        .compose(ignored -> vertx.executeBlocking(this::ensureSourceRuns, false))
        .onComplete(running -> {
          deps.workloads().endMigration(workload.id());
          boolean resumed = running.succeeded() && running.result();
          if (!resumed) {
            status.error(MigrationFailure.of(Code.ROLLBACK_FAILED, "the source did not resume"));
            finish(MigrationPhase.FAILED);
            return;
          }
          verdict.explain(failure).onComplete(explained -> {
            if (explained.result() != failure) {
              LOG.info("migration {}: the destination explains it: {} ({})", id, explained.result().code(),
                  explained.result().message());
              status.explainError(explained.result());
            }
            finish(MigrationPhase.ROLLED_BACK);
          });
        });
  }

  /**
   * A committed dump leaves the network locked (CRIU's DROP rules for every dumped connection, meant to
   * hide the frozen sockets until a restore in this netns unlocks them). The workload now runs elsewhere,
   * so the rules only keep its old peers hanging: without them, this node answers their next packet with a
   * reset and they reconnect at once. Blocking.
   */
  private Void unlockConnections() {
    int removed = new NetworkLockRules(deps.criu().wrapper()).removeAddedSince(lockRulesBefore);
    if (removed > 0) {
      LOG.info("migration {}: removed {} CRIU lock rule(s) of the moved connections", id, removed);
    }
    return null;
  }

  /** Peers of connections restored closed get a reset now, from the sockets the frozen source holds. */
  private Void resetClosedConnections() {
    int reset = connections.resetIfClosed(deps.criu().wrapper(), this::unlockConnections);
    if (reset > 0) {
      LOG.info("migration {}: reset {} of {} connection(s) restored closed on the destination", id, reset,
          connections.size());
    }
    return null;
  }

  /** CRIU normally resumed the tree itself; if it could not, unlock and resume it here. Blocking. */
  private boolean ensureSourceRuns() {
    long pid = workload.pid();
    if (ProcessTree.alive(pid) && !ProcessTree.running(pid)) {
      int removed = new NetworkLockRules(deps.criu().wrapper()).removeAddedSince(lockRulesBefore);
      ProcessTree.signalAll(pid, "CONT");
      LOG.warn("migration {}: CRIU left the source stopped; removed {} lock rule(s) and sent SIGCONT", id, removed);
    }
    return ProcessTree.running(pid);
  }

  private void countBytes() {
    long pageBytes = pages == null ? 0 : pages.bytesWritten();
    status.bytes("pages", pageBytes);
    status.bytes("images", imageBytes);
    status.bytes("raw", pageBytes + imageBytes);
    if (connection != null) {
      status.bytes("wire", connection.stats().wireBytesSent());
    }
  }

  private void finish(MigrationPhase phase) {
    vertx.cancelTimer(progressTimer);
    countBytes();
    MigrationEvents.conclude(status, phase, startNanos);
    List<Future<?>> closing = new java.util.ArrayList<>();
    if (gate != null) {
      closing.add(gate.close());
    }
    if (pageSocket != null) {
      closing.add(pageSocket.close());
    }
    if (proxy != null) {
      closing.add(proxy.close());
    }
    if (connection != null) {
      closing.add(connection.close());
    }
    Path dir = scratch;
    Future.join(closing)
        .eventually(() -> vertx.executeBlocking(() -> {
          SessionDirs.settle(dir, dir, phase != MigrationPhase.DONE, deps.settings().failureLogs(), id)
              .ifPresent(kept -> LOG.warn("migration {}: CRIU logs kept in {}", id, kept));
          return null;
        }, false))
        .onComplete(ignored -> done.complete(status.toJson()));
  }

}
