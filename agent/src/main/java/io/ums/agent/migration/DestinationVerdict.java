package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The account the data connection gives of a failure, for a source whose page stream broke on its side.
 * When the destination's end fails (its page server ran out of space, a frame arrived corrupted, the agent
 * died), the source's dump sees only a broken pipe, often before the destination's result or the
 * connection's own error arrives: the source resumes at once, and its final status waits a moment for the
 * better reason. Lives on the migration's event loop.
 */
final class DestinationVerdict {
  /** As long as a failing destination tries to report (ResultChannel). */
  private static final long WAIT_MILLIS = 2_000;
  /** CRIU's errors when the far end of its page stream went away. */
  private static final Pattern BROKEN_STREAM = Pattern.compile("page-xfer|Broken pipe|Connection reset");
  /** What a peer says when it only echoes the source's own failure back (it reset the channels). */
  private static final Set<Code> ECHOES = Set.of(Code.CONNECTION_LOST, Code.ABORTED, Code.TIMEOUT,
      Code.SHUTTING_DOWN, Code.PROTOCOL_ERROR);

  private final Vertx vertx;
  private final Promise<Void> decisive = Promise.promise();
  private MigrationFailure informative;
  private MigrationFailure connectionLost;

  DestinationVerdict(Vertx vertx) {
    this.vertx = vertx;
  }

  /** The destination or the data connection reported a failure. */
  void heard(MigrationFailure failure) {
    if (!ECHOES.contains(failure.code())) {
      if (informative == null) {
        informative = failure;
      }
      decisive.tryComplete();
    } else if (failure.code() == Code.CONNECTION_LOST && connectionLost == null) {
      connectionLost = failure;
    }
  }

  /**
   * {@code local}, or a better reason when {@code local} is the destination's broken end seen from here:
   * the destination's own (no space, corrupted frame, failed restore), else a lost connection over a dump's
   * broken pipe.
   */
  Future<MigrationFailure> explain(MigrationFailure local) {
    boolean brokenDump = local.code() == Code.DUMP_FAILED && BROKEN_STREAM.matcher(local.message()).find();
    if (!brokenDump && local.code() != Code.CONNECTION_LOST) {
      return Future.succeededFuture(local);
    }
    vertx.setTimer(WAIT_MILLIS, ignored -> decisive.tryComplete());
    return decisive.future().map(ignored -> {
      if (informative != null) {
        return informative;
      }
      return brokenDump && connectionLost != null ? connectionLost : local;
    });
  }
}
