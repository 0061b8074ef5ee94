package io.ums.agent.migration;

import io.ums.agent.migration.MigrationFailure.Code;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The destination's own account of a failure, for a source whose page stream broke on its side. When the
 * destination's end fails (its page server ran out of space, its restore failed), the source's dump sees
 * only a broken pipe, often before the destination's result arrives: the source resumes at once, and its
 * final status waits a moment for the destination's reason, which says what really happened.
 */
final class DestinationVerdict {
  /** As long as a failing destination tries to report (ResultChannel). */
  private static final long WAIT_MILLIS = 2_000;
  /** CRIU's errors when the far end of its page stream went away. */
  private static final Pattern BROKEN_STREAM = Pattern.compile("page-xfer|Broken pipe|Connection reset");
  /** Verdicts that only echo the source's own failure back (it reset the channels). */
  private static final Set<Code> ECHOES = Set.of(Code.CONNECTION_LOST, Code.ABORTED, Code.TIMEOUT,
      Code.SHUTTING_DOWN, Code.PROTOCOL_ERROR);

  private final Promise<MigrationFailure> heard = Promise.promise();

  /** The destination reported a failure. */
  void heard(MigrationFailure failure) {
    heard.tryComplete(failure);
  }

  /** {@code local}, or the destination's reason when {@code local} is its broken end seen from here. */
  Future<MigrationFailure> explain(MigrationFailure local) {
    boolean brokenFarEnd = local.code() == Code.CONNECTION_LOST
        || (local.code() == Code.DUMP_FAILED && BROKEN_STREAM.matcher(local.message()).find());
    if (!brokenFarEnd) {
      return Future.succeededFuture(local);
    }
    return heard.future().timeout(WAIT_MILLIS, TimeUnit.MILLISECONDS)
        .map(remote -> ECHOES.contains(remote.code()) ? local : remote)
        .otherwise(local);
  }
}
