package io.ums.agent.migration;

import io.ums.agent.criu.NetworkLockRules;
import io.ums.agent.criu.ProcessTree;
import io.ums.agent.criu.TcpConnections;
import io.ums.agent.criu.UnmovableFiles;
import io.ums.agent.dataplane.LazyPageChannels;
import io.ums.agent.dataplane.PostCopySource;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.workload.WorkingDirectories;
import io.ums.agent.workload.Workload;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.ProtocolError;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A process tree moved post-copy (interface ff, mode post-copy), the source side: adapts {@link PostCopySource}
 * to the driver's steps (agent/POSTCOPY.md). {@code criu dump --lazy-pages} freezes the tree and writes the
 * small images, which are sent; the destination's page requests arriving commit (CRIU passes the gate and
 * serves pages); the destination's result comes once it has every page, and the frozen copy is killed.
 *
 * <p>Roll back before the commit: the gate says no and CRIU resumes the tree. After the commit the frozen
 * tree is the only complete copy; it resumes only once the destination's copy is known dead: at once when
 * the destination reported that it fenced, otherwise (link or destination lost) after the fence lease: the
 * destination fences by itself within its idle timeout of the link going silent, plus the time to kill.
 */
final class PostCopyProcessSource implements SourceBackend {
  private static final Logger LOG = LoggerFactory.getLogger(PostCopyProcessSource.class);
  private static final long PAGE_SERVER_CONNECT_MILLIS = 10_000;
  /** Beyond the idle timeout: how long the destination may take to kill its copy once it saw the link die. */
  private static final long FENCE_MARGIN_MILLIS = 12_000;

  private final SourceSession session;
  private final MigrationDeps deps;
  private final Vertx vertx;
  private final Workload workload;
  private final Promise<PostCopySource> started = Promise.promise();
  private PostCopySource source;
  private long freezeStartNanos = -1;
  private long committedNanos = -1;
  private Optional<Long> outputPipe = Optional.empty();
  private Optional<String> cwd = Optional.empty();
  private Set<String> tcpLocalAddresses = Set.of();
  private Set<String> tcpListenAddresses = Set.of();
  private long imageBytes;

  PostCopyProcessSource(SourceSession session, Workload workload) {
    this.session = session;
    this.deps = session.deps();
    this.vertx = deps.vertx();
    this.workload = workload;
  }

  @Override
  public Future<Void> prepare() {
    return vertx.executeBlocking(() -> {
      Files.createDirectories(session.dir().resolve("images"));
      outputPipe = ProcessTree.pipeInode(workload.pid(), 1);
      cwd = WorkingDirectories.of(workload.pid());
      List<Long> tree = ProcessTree.members(workload.pid());
      UnmovableFiles.find(tree).ifPresent(why -> {
        throw new MigrationFailure.Exception(Code.UNMOVABLE_RESOURCE, "workload " + workload.id()
            + " cannot move: " + why);
      });
      tcpLocalAddresses = TcpConnections.localAddresses(tree);
      tcpListenAddresses = TcpConnections.listeningAddresses(tree);
      // before the freeze: an agent killed from now on leaves a record its next run settles
      deps.stoppedSources().record(session.id(), workload.id(), workload.pid(),
          new NetworkLockRules(deps.criu().wrapper()).snapshot(), session.dir());
      session.closeOnFinish(() -> vertx.executeBlocking(() -> {
        deps.stoppedSources().forget(session.id());
        return null;
      }, false));
      return null;
    }, false);
  }

  /** {@code criu dump --lazy-pages}; completes once the tree is frozen and its small images are written. */
  @Override
  public Future<Void> checkpoint() {
    session.status().phase(MigrationPhase.CHECKPOINTING);
    freezeStartNanos = System.nanoTime();
    PostCopySource.Settings settings = new PostCopySource.Settings(deps.criu(), workload.pid(),
        session.dir().resolve("images"), session.dir(), deps.localHost(), deps.localHost(),
        deps.settings().migrationTimeout().plusMinutes(1), PAGE_SERVER_CONNECT_MILLIS,
        deps.stoppedSources().verdictFile(session.id()));
    LOG.info("migration {} CHECKPOINTING: criu dump --lazy-pages of pid {}", session.id(), workload.pid());
    PostCopySource.checkpoint(vertx, settings).onComplete(started);
    return started.future()
        .compose(opened -> {
          source = opened;
          return opened.dumped();
        })
        .recover(failure -> Future.failedFuture(new MigrationFailure.Exception(Code.DUMP_FAILED,
            failure.getMessage())));
  }

  /** The destination's daemon asks for its first page: the restore reached the tree's memory; commit. */
  @Override
  public boolean onPeerChannel(IncomingChannel channel) {
    if (!LazyPageChannels.REQUESTS.equals(channel.kind())) {
      return false;
    }
    if (source == null || session.finishing()) {
      channel.reset(ProtocolError.CANCELLED, "the migration ended");
      return true;
    }
    committedNanos = System.nanoTime();
    session.status().postCopy(new JsonObject().put("state", "post-copy: the destination runs, pages follow")
        .put("frozenMs", MigrationEvents.millis(freezeStartNanos, committedNanos)));
    LOG.info("migration {}: the destination asks for pages; committed, serving them", session.id());
    source.serve(session.connection(), channel)
        .onFailure(failure -> session.fail(MigrationFailure.of(Code.CONNECTION_LOST,
            "cannot serve pages: " + failure.getMessage())));
    return true;
  }

  @Override
  public Future<RestoreManifest> send() {
    MigrationStatus status = session.status();
    status.timing("dumpMs", MigrationEvents.millis(freezeStartNanos, System.nanoTime()));
    status.phase(MigrationPhase.TRANSFERRING);
    return vertx.executeBlocking(() -> ImageFiles.list(session.dir().resolve("images")), false)
        .compose(files -> ImageFiles.send(vertx, session.connection(), files))
        .compose(bytes -> vertx.executeBlocking(() -> {
          // the restore request goes next: from now on only the destination's verdict may resume the source
          deps.stoppedSources().awaitVerdict(session.id());
          return bytes;
        }, false).onSuccess(ignored -> source.holdGate()))
        .map(bytes -> {
          imageBytes = bytes;
          countBytes(status);
          return RestoreManifest.forProcess(session.id(), deps.node(), workload.id(), workload.spec(),
              List.copyOf(tcpLocalAddresses), List.copyOf(tcpListenAddresses), outputPipe).withCwd(cwd);
        })
        .recover(failure -> Future.failedFuture(new MigrationFailure.Exception(
            Failures.classify(failure, Code.CONNECTION_LOST))));
  }

  /** The destination has every page: the frozen copy is garbage. */
  @Override
  public Future<Void> commit(MigrationResult result) {
    MigrationStatus status = session.status();
    long sinceFreeze = MigrationEvents.millis(freezeStartNanos, System.nanoTime());
    JsonObject figures = result.postCopy().orElseGet(JsonObject::new);
    long postCopyMs = figures.getLong("postCopyMs", 0L);
    // the workload ran again when the destination's restore returned, postCopyMs before its result
    status.timing("downtimeMs", Math.max(0, sinceFreeze - postCopyMs));
    status.timing("postCopyMs", postCopyMs);
    status.postCopy(figures.copy().put("state", "done: every page arrived; the frozen source copy was killed"));
    status.destinationWorkloadId(result.workloadId().orElse(null));
    return source.finish()
        .onSuccess(served -> status.bytes("pages", served.bytes()))
        .<Void>mapEmpty()
        .eventually(() -> {
          deps.workloads().endMigration(workload.id());
          return deps.workloads().remove(workload.id());
        });
  }

  @Override
  public Future<MigrationPhase> rollBack(MigrationFailure failure) {
    return started.future().transform(ignored -> {
      if (source == null) {
        return vertx.executeBlocking(() -> ProcessTree.running(workload.pid()), false);
      }
      if (!source.committed()) {
        return source.rollback();
      }
      long lease = failure.code() == Code.POST_COPY_BROKEN ? 0
          : deps.settings().idleTimeout().toMillis() + FENCE_MARGIN_MILLIS;
      if (lease > 0 && session.connection() != null) {
        // a failure seen here only (abort, deadline): the destination fences as soon as its connection goes
        session.connection().close();
      }
      LOG.warn("migration {}: post-copy broke ({}); resuming the frozen source copy in {} ms", session.id(),
          failure.message(), lease);
      Promise<Void> leaseOver = Promise.promise();
      vertx.setTimer(Math.max(1, lease), timer -> leaseOver.complete());
      return leaseOver.future().compose(over -> source.resume(failure.message()))
          .onSuccess(running -> session.status().postCopy(postCopyBroken(failure, running)));
    }).transform(running -> {
      deps.workloads().endMigration(workload.id());
      return running.succeeded() && running.result() ? Future.succeededFuture(MigrationPhase.ROLLED_BACK)
          : Future.failedFuture(new MigrationFailure.Exception(Code.ROLLBACK_FAILED, "the source did not resume"));
    });
  }

  /** The state a broken post-copy left the workload in, said plainly (the destination's copy is dead by now). */
  private JsonObject postCopyBroken(MigrationFailure failure, boolean running) {
    long ranAtMost = MigrationEvents.millis(committedNanos, System.nanoTime());
    return new JsonObject().put("state", running ? "resumed" : "resume failed")
        .put("outcome", "post-copy broke before the last page (" + failure.message() + "); "
            + (running ? "resumed on the source from the freeze point" : "the source did not resume")
            + "; the destination's copy ran at most " + ranAtMost + " ms and was killed: that work is lost");
  }

  @Override
  public void countBytes(MigrationStatus status) {
    long pages = source == null ? 0 : source.served().bytes();
    status.bytes("pages", pages);
    status.bytes("images", imageBytes);
    status.bytes("raw", pages + imageBytes);
  }
}
