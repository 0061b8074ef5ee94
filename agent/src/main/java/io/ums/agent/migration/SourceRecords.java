package io.ums.agent.migration;

import io.ums.agent.workload.Workload;
import java.io.IOException;
import java.util.Set;

/**
 * The stopped-source record every moving (not copying) source writes before its freeze: an agent killed from
 * then on leaves it for its next run to settle. The running agent forgets it when the migration ends.
 */
final class SourceRecords {
  private SourceRecords() {
  }

  /**
   * A process tree, with the CRIU lock rules present before its dump and the members its program had
   * stopped ({@link io.ums.agent.criu.ProcessTree#stoppedMembers}). Blocking.
   */
  static void recordProcess(SourceSession session, Workload workload, Set<String> lockRulesBefore,
      Set<Long> stoppedBefore) throws IOException {
    session.deps().stoppedSources().record(session.id(), workload.id(), workload.pid(), lockRulesBefore,
        stoppedBefore, session.dir());
    forgetOnFinish(session);
  }

  /** A runc container: no pid of ours, no lock rules. Blocking. */
  static void recordContainer(SourceSession session, Workload workload) throws IOException {
    session.deps().stoppedSources().recordContainer(session.id(), workload.id(), session.dir());
    forgetOnFinish(session);
  }

  private static void forgetOnFinish(SourceSession session) {
    session.closeOnFinish(() -> session.deps().vertx().executeBlocking(() -> {
      session.deps().stoppedSources().forget(session.id());
      return null;
    }, false));
  }
}
