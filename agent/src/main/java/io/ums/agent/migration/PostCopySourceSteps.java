package io.ums.agent.migration;

import io.ums.agent.dataplane.LazyPageChannels;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.ProtocolError;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver steps every post-copy source shares, whatever it froze (agent/POSTCOPY.md): the destination's
 * page requests arriving commit; the commit's figures (downtime = freeze to the destination's restore);
 * the rollback: before the commit the dump lets the workload run on, after it the frozen copy resumes only
 * once the destination's copy is known dead: at once when the destination reported that it fenced,
 * otherwise (link or destination lost) after the fence lease: the destination fences by itself within its
 * idle timeout of the link going silent, plus the time to kill.
 */
final class PostCopySourceSteps {
  private static final Logger LOG = LoggerFactory.getLogger(PostCopySourceSteps.class);
  /** Beyond the idle timeout: how long the destination may take to kill its copy once it saw the link die. */
  private static final long FENCE_MARGIN_MILLIS = 12_000;

  private final SourceSession session;
  private long freezeStartNanos = -1;
  private long committedNanos = -1;

  PostCopySourceSteps(SourceSession session) {
    this.session = session;
  }

  /** The workload freezes now. */
  void freezing() {
    freezeStartNanos = System.nanoTime();
  }

  long freezeStartNanos() {
    return freezeStartNanos;
  }

  /** The destination's daemon asks for its first page: the restore reached the memory; commit and serve. */
  boolean onPeerChannel(IncomingChannel channel, LazyDumpSide dump) {
    if (!LazyPageChannels.REQUESTS.equals(channel.kind())) {
      return false;
    }
    if (dump == null || session.finishing()) {
      channel.reset(ProtocolError.CANCELLED, "the migration ended");
      return true;
    }
    committedNanos = System.nanoTime();
    session.status().postCopy(new JsonObject().put("state", "post-copy: the destination runs, pages follow")
        .put("frozenMs", MigrationEvents.millis(freezeStartNanos, committedNanos)));
    LOG.info("migration {}: the destination asks for pages; committed, serving them", session.id());
    dump.serve(session.connection(), channel)
        .onFailure(failure -> session.fail(MigrationFailure.of(Code.CONNECTION_LOST,
            "cannot serve pages: " + failure.getMessage())));
    return true;
  }

  /** The destination has every page: its figures go into the status. */
  void committed(MigrationResult result) {
    MigrationStatus status = session.status();
    long sinceFreeze = MigrationEvents.millis(freezeStartNanos, System.nanoTime());
    JsonObject figures = result.postCopy().orElseGet(JsonObject::new);
    long postCopyMs = figures.getLong("postCopyMs", 0L);
    // the workload ran again when the destination's restore returned, postCopyMs before its result
    status.timing("downtimeMs", Math.max(0, sinceFreeze - postCopyMs));
    status.timing("postCopyMs", postCopyMs);
    status.postCopy(figures.copy().put("state", "done: every page arrived; the frozen source copy was killed"));
    status.destinationWorkloadId(result.workloadId().orElse(null));
  }

  /**
   * Brings the source back after {@code failure}; {@code dump} null = the dump never started ({@code ifNoDump}
   * says whether the workload runs). Completes with whether it runs.
   */
  Future<Boolean> rollBack(MigrationFailure failure, LazyDumpSide dump, Supplier<Future<Boolean>> ifNoDump) {
    if (dump == null) {
      return ifNoDump.get();
    }
    if (!dump.committed()) {
      return dump.rollback();
    }
    long lease = failure.code() == Code.POST_COPY_BROKEN ? 0
        : session.deps().settings().idleTimeout().toMillis() + FENCE_MARGIN_MILLIS;
    if (lease > 0 && session.connection() != null) {
      // a failure seen here only (abort, deadline): the destination fences as soon as its connection goes
      session.connection().close();
    }
    LOG.warn("migration {}: post-copy broke ({}); resuming the frozen source copy in {} ms", session.id(),
        failure.message(), lease);
    Promise<Void> leaseOver = Promise.promise();
    session.deps().vertx().setTimer(Math.max(1, lease), timer -> leaseOver.complete());
    return leaseOver.future().compose(over -> dump.resume(failure.message()))
        .onSuccess(running -> session.status().postCopy(postCopyBroken(failure, running)));
  }

  /** The state a broken post-copy left the workload in, said plainly (the destination's copy is dead by now). */
  private JsonObject postCopyBroken(MigrationFailure failure, boolean running) {
    long ranAtMost = MigrationEvents.millis(committedNanos, System.nanoTime());
    return new JsonObject().put("state", running ? "resumed" : "resume failed")
        .put("outcome", "post-copy broke before the last page (" + failure.message() + "); "
            + (running ? "resumed on the source from the freeze point" : "the source did not resume")
            + "; the destination's copy ran at most " + ranAtMost + " ms and was killed: that work is lost");
  }
}
