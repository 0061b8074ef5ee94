package io.ums.agent.migration;

import io.ums.agent.criu.CriuDump;
import io.ums.agent.criu.NetworkLockRules;
import io.ums.agent.criu.PostDumpGate;
import io.ums.agent.criu.ProcessTree;
import io.ums.agent.dataplane.DumpPageSocket;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.workload.Workload;
import io.ums.protocol.IncomingChannel;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A process tree moved with the agent's own CRIU (interface ff), the source side.
 *
 * <p>{@code criu dump} runs with its page server pointed at a local {@link DumpPageSocket} whose bytes go
 * straight into a "pages" channel; when CRIU reaches the {@link PostDumpGate} (all pages sent, tasks still
 * frozen) the image files follow. Commit: CRIU ends with the tasks stopped and the agent kills them. Roll
 * back: the gate says "rollback" and CRIU itself unlocks the network and resumes the tasks; if CRIU cannot
 * (it died), the agent removes the lock rules and sends SIGCONT.
 */
final class ProcessSource implements SourceBackend {
  private static final Logger LOG = LoggerFactory.getLogger(ProcessSource.class);
  private static final long DUMP_EXIT_WAIT_MILLIS = 15_000;

  private final SourceSession session;
  private final MigrationDeps deps;
  private final Vertx vertx;
  private final Workload workload;
  private final boolean keep;
  private long freezeStartNanos = -1;
  private ProcessFacts facts;
  private Set<String> lockRulesBefore = Set.of();
  private Set<Long> stoppedBefore = Set.of();
  private MovedConnections connections = MovedConnections.none();
  private PostDumpGate gate;
  private DumpPageSocket pageSocket;
  private PageStreamRelay pages;
  private Process dumpProcess;
  private Future<Integer> dumpExit;
  private long imageBytes;

  ProcessSource(SourceSession session, Workload workload, boolean keep) {
    this.session = session;
    this.deps = session.deps();
    this.vertx = deps.vertx();
    this.workload = workload;
    this.keep = keep;
  }

  /** Sockets, process tree, lock rules: a few process spawns, while the connection opens. */
  @Override
  public Future<Void> prepare() {
    return PostDumpGate.listen(vertx, deps.localHost())
        .compose(opened -> {
          gate = opened;
          session.closeOnFinish(opened::close);
          return DumpPageSocket.listen(vertx, deps.localHost());
        })
        .compose(opened -> {
          pageSocket = opened;
          session.closeOnFinish(opened::close);
          return vertx.executeBlocking(() -> {
            Files.createDirectories(session.dir().resolve("images"));
            facts = ProcessFacts.read(workload);
            connections = new MovedConnections(facts.clients());
            lockRulesBefore = new NetworkLockRules(deps.criu().wrapper()).snapshot();
            stoppedBefore = ProcessTree.stoppedMembers(workload.pid());
            if (!keep) {
              SourceRecords.recordProcess(session, workload, lockRulesBefore, stoppedBefore);
            }
            gate.writeScript(session.dir(), deps.settings().migrationTimeout().plusMinutes(1),
                keep ? null : deps.stoppedSources().verdictFile(session.id()));
            return null;
          }, false);
        });
  }

  /** Starts {@code criu dump}; completes when it reached the gate: every page sent, the tree frozen. */
  @Override
  public Future<Void> checkpoint() {
    pages = new PageStreamRelay(session.connection(), workload.id());
    pageSocket.accepted().onSuccess(pages::dumpConnected);
    pages.sent().onFailure(failure -> session.failFromPeer(Failures.classify(failure, Code.CONNECTION_LOST)));
    session.status().phase(MigrationPhase.CHECKPOINTING);
    CriuDump.Options options = new CriuDump.Options(workload.pid(), session.dir().resolve("images"), session.dir(),
        deps.localHost(), pageSocket.port(), session.dir().resolve("post-dump-gate.sh"), keep);
    Future<Process> launched = vertx.executeBlocking(() -> {
      freezeStartNanos = System.nanoTime();
      return CriuDump.start(deps.criu(), options);
    }, false);
    dumpExit = launched.compose(process -> {
      dumpProcess = process;
      return vertx.executeBlocking(process::waitFor, false);
    });
    dumpExit.onSuccess(code -> {
      if (code != 0 && !session.finishing()) {
        session.fail(MigrationFailure.of(Code.DUMP_FAILED, "criu dump failed (exit " + code + "): "
            + CriuDump.errors(options)));
      }
    });
    LOG.info("migration {} CHECKPOINTING: criu dump of pid {}", session.id(), workload.pid());
    return launched.compose(ignored -> gate.dumped());
  }

  @Override
  public boolean onPeerChannel(IncomingChannel channel) {
    if (Channels.PAGES_REPLY.equals(channel.kind()) && pages != null) {
      pages.replyChannel(channel);
      return true;
    }
    return false;
  }

  /** The image files, once every page went out. */
  @Override
  public Future<RestoreManifest> send() {
    MigrationStatus status = session.status();
    status.timing("dumpMs", MigrationEvents.millis(freezeStartNanos, System.nanoTime()));
    status.timing("freezeMs", MigrationEvents.millis(freezeStartNanos, pages.connectedNanos()));
    if (keep) {
      // a copy: CRIU resumes the source (--leave-running) as soon as the gate lets go
      gate.commit();
    }
    status.phase(MigrationPhase.TRANSFERRING);
    LOG.info("migration {} TRANSFERRING: dump complete after {} ms, sending images", session.id(),
        status.timing("dumpMs"));
    return pages.sent()
        .compose(ignored -> vertx.executeBlocking(() -> ImageFiles.list(session.dir().resolve("images")), false))
        .compose(files -> ImageFiles.send(vertx, session.connection(), files))
        .compose(bytes -> keep ? Future.succeededFuture(bytes) : vertx.executeBlocking(() -> {
          // the restore request goes next: from now on only the destination's verdict may resume the source
          deps.stoppedSources().awaitVerdict(session.id());
          return bytes;
        }, false).onSuccess(ignored -> gate.hold()))
        .map(bytes -> {
          imageBytes = bytes;
          countBytes(status);
          status.timing("transferMs", MigrationEvents.millis(pages.connectedNanos(), System.nanoTime()));
          return facts.manifest(session, workload);
        })
        .recover(failure -> {
          MigrationFailure lost = Failures.classify(failure, Code.CONNECTION_LOST);
          session.failFromPeer(lost);
          return Future.failedFuture(new MigrationFailure.Exception(lost));
        });
  }

  @Override
  public Future<Void> commit(MigrationResult result) {
    MigrationStatus status = session.status();
    status.timing("downtimeMs", MigrationEvents.millis(freezeStartNanos, System.nanoTime()));
    status.destinationWorkloadId(result.workloadId().orElse(null));
    connections.restoredAs(result);
    LOG.info("migration {}: destination runs workload {}, committing", session.id(), result.workloadId().orElse(null));
    if (!keep) {
      gate.commit();
    }
    return dumpExit.timeout(DUMP_EXIT_WAIT_MILLIS, TimeUnit.MILLISECONDS)
        .recover(failure -> Future.succeededFuture(-1))
        .compose(code -> {
          deps.workloads().endMigration(workload.id());
          return keep ? Future.<Void>succeededFuture() : vertx.executeBlocking(this::resetClosedConnections, false)
              .otherwiseEmpty().compose(ignored -> deps.workloads().remove(workload.id()));
        })
        .eventually(() -> vertx.executeBlocking(this::unlockConnections, false));
  }

  @Override
  public Future<MigrationPhase> rollBack(MigrationFailure failure) {
    if (gate != null) {
      gate.rollback();
    }
    if (pageSocket != null) {
      pageSocket.close();
    }
    if (pages != null) {
      pages.reset(failure.message());
    }
    Future<Integer> exited = dumpExit == null ? Future.succeededFuture(0) : dumpExit
        .timeout(DUMP_EXIT_WAIT_MILLIS, TimeUnit.MILLISECONDS)
        .recover(timeout -> vertx.executeBlocking(() -> {
          LOG.warn("migration {}: criu dump did not end, killing it", session.id());
          if (dumpProcess != null) {
            dumpProcess.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
          }
          return -1;
        }, false));
    return exited.recover(ignored -> Future.succeededFuture(-1))
        .compose(ignored -> vertx.executeBlocking(this::ensureSourceRuns, false))
        .transform(running -> {
          deps.workloads().endMigration(workload.id());
          return running.succeeded() && running.result() ? Future.succeededFuture(MigrationPhase.ROLLED_BACK)
              : Future.failedFuture(new MigrationFailure.Exception(Code.ROLLBACK_FAILED, "the source did not resume"));
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
      LOG.info("migration {}: removed {} CRIU lock rule(s) of the moved connections", session.id(), removed);
    }
    return null;
  }

  /** Peers of connections restored closed get a reset now, from the sockets the frozen source holds. */
  private Void resetClosedConnections() {
    int reset = connections.resetIfClosed(deps.criu().wrapper(), this::unlockConnections);
    if (reset > 0) {
      LOG.info("migration {}: reset {} of {} connection(s) restored closed on the destination", session.id(), reset,
          connections.size());
    }
    return null;
  }

  /**
   * CRIU normally resumed the tree itself; if it could not, unlock it here. SIGCONT goes in any case: a
   * tree CRIU left stopped may still read as running (see {@link ProcessTree#running}). Blocking.
   */
  private boolean ensureSourceRuns() {
    long pid = workload.pid();
    if (ProcessTree.alive(pid) && !ProcessTree.running(pid, stoppedBefore)) {
      int removed = new NetworkLockRules(deps.criu().wrapper()).removeAddedSince(lockRulesBefore);
      LOG.warn("migration {}: CRIU left the source stopped; removed {} lock rule(s)", session.id(), removed);
    }
    return ProcessTree.resume(pid, stoppedBefore);
  }

  @Override
  public void countBytes(MigrationStatus status) {
    long pageBytes = pages == null ? 0 : pages.bytesWritten();
    status.bytes("pages", pageBytes);
    status.bytes("images", imageBytes);
    status.bytes("raw", pageBytes + imageBytes);
  }
}
