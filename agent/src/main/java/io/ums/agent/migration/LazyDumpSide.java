package io.ums.agent.migration;

import io.ums.protocol.IncomingChannel;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;

/**
 * What {@link PostCopySourceSteps} needs of a source's lazy dump, whatever froze the workload: CRIU on a process
 * tree ({@link io.ums.agent.dataplane.PostCopySource}) or runc on a container ({@link RuncLazyCheckpoint}).
 */
interface LazyDumpSide {
  /** Commits (the destination may run from now on) and serves its page requests. */
  Future<?> serve(UmsConnection connection, IncomingChannel requests);

  /** Whether {@link #serve} committed: from then on only {@link #resume} brings the frozen copy back. */
  boolean committed();

  /** Before the commit: the frozen copy runs on; true when it runs. */
  Future<Boolean> rollback();

  /** After a broken post-copy, once the destination's copy is known dead: the frozen copy runs on. */
  Future<Boolean> resume(String why);
}
