package io.ums.bench.downtime;

import io.ums.testkit.NetworkTestbed;
import io.ums.bench.local.Commands;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The plain CRIU commands of the baselines, run inside a node's network namespace ({@code nsenter --net},
 * not {@code ip netns exec}). CRIU's own log goes to {@code <logDir>/<action>.log}; a failure carries its
 * last error lines (the rlimit warning CRIU always prints is not one).
 */
final class Criu {
  private static final Duration TIMEOUT = Duration.ofMinutes(5);

  private Criu() {}

  /** {@code criu dump -t pid -D images --tcp-established [extra]}: the process is killed once dumped. */
  static void dump(NetworkTestbed.Node node, long pid, Path images, Path logDir, List<String> extra) {
    run(node, "dump", dumpArguments(pid, images, extra), logDir);
  }

  /** The arguments of {@link #dump}, for a dump the caller runs itself (one that stays to serve pages). */
  static List<String> dumpArguments(long pid, Path images, List<String> extra) {
    List<String> args = new ArrayList<>(List.of("dump", "-t", String.valueOf(pid), "-D", images.toString(),
        "--tcp-established"));
    args.addAll(extra);
    return args;
  }

  /**
   * {@code criu restore -d} in the destination's namespace. The probe's connection to the source cannot
   * come back there (its local address belongs to the source node: "Can't bind inet socket back"), so
   * established connections are restored closed ({@code --tcp-close}); the listener comes back and clients
   * reconnect, which is what the probe does.
   */
  static void restore(NetworkTestbed.Node node, Path images, Path pidFile, Path logDir) {
    restore(node, images, pidFile, logDir, List.of());
  }

  /** {@link #restore(NetworkTestbed.Node, Path, Path, Path)} with {@code extra} arguments. */
  static void restore(NetworkTestbed.Node node, Path images, Path pidFile, Path logDir, List<String> extra) {
    List<String> args = new ArrayList<>(List.of("restore", "-D", images.toString(), "-d", "--tcp-close",
        "--pidfile", pidFile.toString()));
    args.addAll(extra);
    run(node, "restore", args, logDir);
  }

  static List<String> command(NetworkTestbed.Node node, List<String> args, Path log) {
    List<String> criu = new ArrayList<>(List.of("criu"));
    criu.addAll(args);
    criu.addAll(List.of("-o", log.toString()));
    return node.inNode(criu);
  }

  private static void run(NetworkTestbed.Node node, String action, List<String> args, Path logDir) {
    Path criuLog = logDir.resolve(action + ".log");
    try {
      Commands.check("criu " + action + " on " + node.name(), command(node, args, criuLog),
          logDir.resolve(action + ".out"), TIMEOUT);
    } catch (Commands.CommandFailed e) {
      throw new Commands.CommandFailed(e.getMessage() + " | criu log: " + Commands.tail(criuLog));
    }
  }
}
