package io.ums.agent.migration;

import io.ums.agent.criu.ClientConnections;
import io.ums.agent.criu.ProcessTree;
import io.ums.agent.criu.TcpConnections;
import io.ums.agent.criu.UnmovableCredentials;
import io.ums.agent.criu.UnmovableFiles;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.agent.workload.WorkingDirectories;
import io.ums.agent.workload.Workload;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What a process source reads of its workload before the freeze, whichever way it moves (stop-and-copy or
 * post-copy): one reading, so a check added for one mode cannot be missing from the other.
 *
 * @param outputPipe the inode of the pipe the workload's stdout writes to, re-created on the destination
 * @param cwd its working directory, re-created on the destination
 * @param tcpLocalAddresses local addresses of its TCP connections (the destination takes them over)
 * @param tcpListenAddresses addresses it listens on
 * @param clients its connections to peers outside the node, reset on the source when they are restored closed
 */
record ProcessFacts(Optional<Long> outputPipe, Optional<String> cwd, Set<String> tcpLocalAddresses,
                    Set<String> tcpListenAddresses, List<ClientConnections.Connection> clients) {

  /** Reads the facts, or refuses a workload CRIU cannot move ({@link Code#UNMOVABLE_RESOURCE}). Blocking. */
  static ProcessFacts read(Workload workload) {
    List<Long> tree = ProcessTree.members(workload.pid());
    UnmovableFiles.find(tree).or(() -> UnmovableCredentials.find(workload.pid(), tree)).ifPresent(why -> {
      throw new MigrationFailure.Exception(Code.UNMOVABLE_RESOURCE, "workload " + workload.id()
          + " cannot move: " + why);
    });
    return new ProcessFacts(ProcessTree.pipeInode(workload.pid(), 1), WorkingDirectories.of(workload.pid()),
        TcpConnections.localAddresses(tree), TcpConnections.listeningAddresses(tree), ClientConnections.of(tree));
  }

  RestoreManifest manifest(SourceSession session, Workload workload) {
    return RestoreManifest.forProcess(session.id(), session.deps().node(), workload.id(), workload.spec(),
        List.copyOf(tcpLocalAddresses), List.copyOf(tcpListenAddresses), outputPipe).withCwd(cwd);
  }
}
