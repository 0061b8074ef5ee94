package io.ums.agent.migration;

import io.ums.agent.criu.NetworkLockRules;
import io.ums.agent.criu.ProcessTree;
import io.ums.agent.criu.UnmovableCredentials;
import io.ums.agent.dataplane.PostCopySource;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.workload.Workload;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A process tree moved post-copy (interface ff, mode post-copy), the source side: adapts {@link PostCopySource}
 * to the driver's steps (agent/POSTCOPY.md; what every post-copy source shares is {@link PostCopySourceSteps}).
 * {@code criu dump --lazy-pages} freezes the tree and writes the small images, which are sent; the
 * destination's page requests arriving commit (CRIU passes the gate and serves pages); the destination's
 * result comes once it has every page, and the frozen copy is killed. Roll back before the commit: the gate
 * says no and CRIU resumes the tree; after it, {@link PostCopySource#resume} once the destination's copy is dead.
 */
final class PostCopyProcessSource implements SourceBackend {
  private static final Logger LOG = LoggerFactory.getLogger(PostCopyProcessSource.class);
  private static final long PAGE_SERVER_CONNECT_MILLIS = 10_000;

  private final SourceSession session;
  private final MigrationDeps deps;
  private final Vertx vertx;
  private final Workload workload;
  private final PostCopySourceSteps steps;
  /** The dump's start, null until {@link #checkpoint} (a refused {@link #prepare} never gets there). */
  private Future<PostCopySource> started;
  private PostCopySource source;
  private LazyDumpSide dump;
  private ProcessFacts facts;
  private long imageBytes;

  PostCopyProcessSource(SourceSession session, Workload workload) {
    this.session = session;
    this.deps = session.deps();
    this.vertx = deps.vertx();
    this.workload = workload;
    this.steps = new PostCopySourceSteps(session);
  }

  @Override
  public Future<Void> prepare() {
    return vertx.executeBlocking(() -> {
      Files.createDirectories(session.dir().resolve("images"));
      facts = ProcessFacts.read(workload);
      UnmovableCredentials.findForPostCopy(workload.pid()).ifPresent(why -> {
        throw new MigrationFailure.Exception(MigrationFailure.Code.UNMOVABLE_RESOURCE, "workload " + workload.id()
            + " cannot move post-copy: " + why);
      });
      SourceRecords.recordProcess(session, workload, new NetworkLockRules(deps.criu().wrapper()).snapshot(),
          ProcessTree.stoppedMembers(workload.pid()));
      return null;
    }, false);
  }

  /** {@code criu dump --lazy-pages}; completes once the tree is frozen and its small images are written. */
  @Override
  public Future<Void> checkpoint() {
    session.status().phase(MigrationPhase.CHECKPOINTING);
    steps.freezing();
    PostCopySource.Settings settings = new PostCopySource.Settings(deps.criu(), workload.pid(),
        session.dir().resolve("images"), session.dir(), deps.localHost(), deps.localHost(),
        deps.settings().migrationTimeout().plusMinutes(1), PAGE_SERVER_CONNECT_MILLIS,
        deps.stoppedSources().verdictFile(session.id()));
    LOG.info("migration {} CHECKPOINTING: criu dump --lazy-pages of pid {}", session.id(), workload.pid());
    started = PostCopySource.checkpoint(vertx, settings);
    return started
        .compose(opened -> {
          source = opened;
          dump = dumpSide(opened);
          return opened.dumped();
        })
        .recover(failure -> Future.failedFuture(new MigrationFailure.Exception(Code.DUMP_FAILED,
            failure.getMessage())));
  }

  private static LazyDumpSide dumpSide(PostCopySource source) {
    return new LazyDumpSide() {
      @Override
      public Future<?> serve(UmsConnection connection, IncomingChannel requests) {
        return source.serve(connection, requests);
      }

      @Override
      public boolean committed() {
        return source.committed();
      }

      @Override
      public Future<Boolean> rollback() {
        return source.rollback();
      }

      @Override
      public Future<Boolean> resume(String why) {
        return source.resume(why);
      }
    };
  }

  @Override
  public boolean onPeerChannel(IncomingChannel channel) {
    return steps.onPeerChannel(channel, dump);
  }

  @Override
  public Future<RestoreManifest> send() {
    MigrationStatus status = session.status();
    status.timing("dumpMs", MigrationEvents.millis(steps.freezeStartNanos(), System.nanoTime()));
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
          return facts.manifest(session, workload);
        })
        .recover(failure -> Future.failedFuture(new MigrationFailure.Exception(
            Failures.classify(failure, Code.CONNECTION_LOST))));
  }

  /** The destination has every page: the frozen copy is garbage. */
  @Override
  public Future<Void> commit(MigrationResult result) {
    steps.committed(result);
    return source.finish()
        .onSuccess(served -> session.status().bytes("pages", served.bytes()))
        .<Void>mapEmpty()
        .eventually(() -> {
          deps.workloads().endMigration(workload.id());
          return deps.workloads().remove(workload.id());
        });
  }

  @Override
  public Future<MigrationPhase> rollBack(MigrationFailure failure) {
    Future<?> begun = started == null ? Future.succeededFuture() : started;
    return begun.transform(ignored -> steps.rollBack(failure, dump,
            () -> vertx.executeBlocking(() -> ProcessTree.running(workload.pid(),
                source == null ? Set.of() : source.stoppedBefore()), false)))
        .transform(running -> {
          deps.workloads().endMigration(workload.id());
          return running.succeeded() && running.result() ? Future.succeededFuture(MigrationPhase.ROLLED_BACK)
              : Future.failedFuture(new MigrationFailure.Exception(Code.ROLLBACK_FAILED,
                  "the source did not resume"));
        });
  }

  @Override
  public void countBytes(MigrationStatus status) {
    long pages = source == null ? 0 : source.served().bytes();
    status.bytes("pages", pages);
    status.bytes("images", imageBytes);
    status.bytes("raw", pages + imageBytes);
  }
}
