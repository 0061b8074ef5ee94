package io.ums.agent.criu;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The iptables rules {@code criu dump --tcp-established} adds to lock the dumped connections (DROP unless
 * marked 0xc114). CRIU removes them itself when it rolls back (see {@link PostDumpGate}); this is the last
 * resort when CRIU could not (it was killed): remove the lock rules that appeared since a snapshot taken
 * before the dump, so the resumed service is reachable again. (The dumped TCP sockets stay in repair mode:
 * only CRIU can take them out; new connections work.) Blocking; runs iptables in the network namespace
 * CRIU ran in ({@link CriuRunner#wrapper()}).
 */
public final class NetworkLockRules {
  private static final String CRIU_MARK = "0xc114";

  private final List<String> wrapper;

  public NetworkLockRules(List<String> wrapper) {
    this.wrapper = List.copyOf(wrapper);
  }

  /** The CRIU lock rules present now, as {@code iptables -S} prints them. */
  public Set<String> snapshot() {
    Set<String> rules = new LinkedHashSet<>();
    for (String line : run(List.of("iptables", "-w", "-S")).split("\n")) {
      if (line.startsWith("-A ") && line.contains(CRIU_MARK) && line.endsWith("-j DROP")) {
        rules.add(line);
      }
    }
    return rules;
  }

  /** Deletes the CRIU lock rules not in {@code before}; returns how many it removed. */
  public int removeAddedSince(Set<String> before) {
    int removed = 0;
    for (String rule : snapshot()) {
      if (before.contains(rule)) {
        continue;
      }
      List<String> command = new ArrayList<>(List.of("iptables", "-w", "-D"));
      command.addAll(List.of(rule.substring(3).split(" ")));
      run(command);
      removed++;
    }
    return removed;
  }

  private String run(List<String> command) {
    List<String> full = new ArrayList<>(wrapper);
    full.addAll(command);
    return CommandOutput.of(full);
  }
}
