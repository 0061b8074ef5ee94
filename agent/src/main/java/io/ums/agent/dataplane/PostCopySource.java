package io.ums.agent.dataplane;

import io.ums.agent.criu.CriuException;
import io.ums.agent.criu.CriuLazyDump;
import io.ums.agent.criu.CriuRunner;
import io.ums.agent.criu.NetworkLockRules;
import io.ums.agent.criu.PostDumpGate;
import io.ums.agent.criu.ProcessTree;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The source half of a post-copy migration of a process tree, as one backend: prepare + checkpoint
 * ({@link #checkpoint}: {@code criu dump --lazy-pages}, tree frozen, small images in {@code imagesDir}),
 * then {@link #serve} the destination's page requests (which commits),
 * and {@link #finish()} once the last page arrived; or {@link #rollback()} before the commit and
 * {@link #resume()} after a post-copy that broke (only once the destination's copy is known dead).
 *
 * <p>The frozen tree is the only complete copy until the destination has every page; nothing here kills
 * it before {@link #lastPageDelivered()}. Lives on the event loop that created it; blocking steps run on
 * workers.
 */
public final class PostCopySource {
  /**
   * @param gateHost where the post-dump gate listens; CRIU's network namespace must reach it
   * @param pageServerHost where CRIU's lazy page server listens (in CRIU's network namespace); this agent
   *     connects to it
   */
  public record Settings(CriuRunner criu, long pid, Path imagesDir, Path workDir, String gateHost,
                         String pageServerHost, Duration gateMaxWait, long connectTimeoutMillis,
                         Path verdictFile) {
    /** {@code verdictFile}: see {@link PostDumpGate#writeScript(Path, Duration, Path)}; null: none. */
    public Settings(CriuRunner criu, long pid, Path imagesDir, Path workDir, String gateHost, String pageServerHost,
                    Duration gateMaxWait, long connectTimeoutMillis) {
      this(criu, pid, imagesDir, workDir, gateHost, pageServerHost, gateMaxWait, connectTimeoutMillis, null);
    }
  }

  /** What the source saw: bytes and requests it served, when it froze and when the last page left. */
  public record Served(long bytes, long requests, long frozenNanos, long lastPageNanos) {}

  private final Vertx vertx;
  private final Settings settings;
  private final PostDumpGate gate;
  private final Set<String> lockRulesBefore;
  private final Set<Long> stoppedBefore;
  private final int pageServerPort;
  private final LazyPageServing serving;
  private Process dump;
  private Future<Integer> dumpExit;
  private long frozenNanos;

  private PostCopySource(Vertx vertx, Settings settings, PostDumpGate gate, Set<String> lockRulesBefore,
                         Set<Long> stoppedBefore, int pageServerPort) {
    this.vertx = vertx;
    this.settings = settings;
    this.gate = gate;
    this.lockRulesBefore = lockRulesBefore;
    this.stoppedBefore = stoppedBefore;
    this.pageServerPort = pageServerPort;
    this.serving = new LazyPageServing(vertx, settings.pageServerHost(), pageServerPort,
        settings.connectTimeoutMillis());
  }

  /** Starts the lazy dump; completes once CRIU runs (wait for {@link #dumped()} before sending images). */
  public static Future<PostCopySource> checkpoint(Vertx vertx, Settings settings) {
    return PostDumpGate.listen(vertx, settings.gateHost()).compose(gate -> vertx.executeBlocking(() -> {
      Set<String> before = new NetworkLockRules(settings.criu().wrapper()).snapshot();
      PostCopySource source = new PostCopySource(vertx, settings, gate, before,
          ProcessTree.stoppedMembers(settings.pid()), LazyPageServing.pickPort(settings.pageServerHost()));
      Path script = gate.writeScript(settings.workDir(), settings.gateMaxWait(), settings.verdictFile());
      source.frozenNanos = System.nanoTime();
      source.dump = CriuLazyDump.start(settings.criu(), new CriuLazyDump.Options(settings.pid(),
          settings.imagesDir(), settings.workDir(), settings.pageServerHost(), source.pageServerPort, script));
      return source;
    }, false).onFailure(e -> gate.close())).map(source -> {
      source.dumpExit = vertx.executeBlocking(() -> source.dump.waitFor(), false);
      return source;
    });
  }

  /** Completes when the tree is frozen and every image file is written; fails when the dump failed. */
  public Future<Void> dumped() {
    Promise<Void> dumped = Promise.promise();
    gate.dumped().onComplete(dumped);
    dumpExit.onComplete(exit -> vertx.executeBlocking(this::errors, false).onComplete(log -> dumped.tryFail(
        new CriuException("dump", "criu dump --lazy-pages exited (" + (exit.succeeded() ? exit.result()
            : exit.cause()) + ") before the gate: " + (log.succeeded() ? log.result() : "")))));
    return dumped.future();
  }

  /**
   * Lets CRIU past the gate: it keeps the network locked and starts serving pages. {@link #serve} calls it:
   * {@code criu restore --lazy-pages} itself faults pages in before it returns, so the source cannot wait
   * for the restore's end; the destination daemon's first connection means the restore has reached the
   * tree's memory, after every file and socket was restored (where restores fail: a port taken, a file
   * missing). Until then a failed restore still rolls back through the gate ({@link #rollback()}).
   */
  /** The restore request goes next: an agent lost from now on leaves the gate waiting for the verdict file. */
  public void holdGate() {
    gate.hold();
  }

  public void commit() {
    gate.commit();
    serving.commit();
  }

  /** Commits and relays the destination daemon's page requests to CRIU. */
  public Future<LazyPageServerRelay> serve(UmsConnection connection, IncomingChannel requests) {
    requests.pause();
    commit();
    return serving.serve(connection, requests);
  }

  /** Whether {@link #commit()} let CRIU past the gate: from then on only {@link #resume} brings the tree back. */
  public boolean committed() {
    return serving.committed();
  }

  /** Completes when the destination has every page; fails when the page stream broke first. */
  public Future<Void> lastPageDelivered() {
    return serving.lastPageDelivered();
  }

  /**
   * Only once the destination has every page (its word, or the close record seen here): CRIU ends its
   * session with the tree stopped; the frozen copy is killed and the
   * lock rules of its moved connections removed (their peers get resets, not silence).
   */
  public Future<Served> finish() {
    // the destination's word that it has every page suffices (the close record may still be on its way here)
    return serving.lastPageDelivered().timeout(30, TimeUnit.SECONDS).otherwiseEmpty()
        .compose(ignored -> awaitDumpExit(Duration.ofSeconds(30)))
        .compose(exit -> vertx.executeBlocking(() -> {
          ProcessTree.signalAll(settings.pid(), "KILL");
          new NetworkLockRules(settings.criu().wrapper()).removeAddedSince(lockRulesBefore);
          return served();
        }, false))
        .eventually(gate::close);
  }

  /** Before the commit (the destination could not restore): CRIU unlocks the network and resumes the tree. */
  public Future<Boolean> rollback() {
    gate.rollback();
    return awaitDumpExit(Duration.ofSeconds(30))
        .transform(ignored -> vertx.executeBlocking(this::ensureRunning, false))
        .eventually(gate::close);
  }

  /**
   * After a broken post-copy, once the destination's copy is dead: the tree resumes from the freeze point.
   * CRIU may have resumed it itself (a broken session) or left it stopped (a clean end); either way its
   * lock rules are removed and a stopped tree is continued. Connections that were open at the freeze stay
   * stuck in TCP repair mode (only CRIU could release them); new connections work.
   */
  public Future<Boolean> resume(String why) {
    serving.abort(why);
    return awaitDumpExit(Duration.ofSeconds(10))
        .transform(ignored -> vertx.executeBlocking(() -> {
          new NetworkLockRules(settings.criu().wrapper()).removeAddedSince(lockRulesBefore);
          return ensureRunning();
        }, false))
        .eventually(gate::close);
  }

  private Future<Integer> awaitDumpExit(Duration timeout) {
    return vertx.executeBlocking(() -> {
      if (!dump.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        dump.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
      return dump.exitValue();
    }, false);
  }

  /**
   * CRIU has let go of the tree (exited or killed): continue it whatever it looks like. A tree CRIU left
   * stopped may still read as running (SIGSTOP queued, not yet acted on, see {@link ProcessTree#running});
   * checking first and continuing only a stopped-looking tree left such a tree to stop right after.
   */
  private boolean ensureRunning() {
    long pid = settings.pid();
    if (ProcessTree.alive(pid) && !ProcessTree.running(pid, stoppedBefore)) {
      new NetworkLockRules(settings.criu().wrapper()).removeAddedSince(lockRulesBefore);
    }
    return ProcessTree.resume(pid, stoppedBefore);
  }

  /** The members of the tree its program had stopped before the freeze: a resume leaves them stopped. */
  public Set<Long> stoppedBefore() {
    return stoppedBefore;
  }

  public Served served() {
    return new Served(serving.bytesServed(), serving.requestsServed(), frozenNanos, serving.lastPageNanos());
  }

  /** The dump process, for its exit code and for tests that kill it. */
  public Process dumpProcess() {
    return dump;
  }

  /** The tail of CRIU's dump log. Blocking. */
  public String errors() {
    return CriuLazyDump.errors(new CriuLazyDump.Options(settings.pid(), settings.imagesDir(), settings.workDir(),
        settings.pageServerHost(), pageServerPort, settings.workDir()));
  }
}
