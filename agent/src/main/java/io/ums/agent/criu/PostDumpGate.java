package io.ums.agent.criu;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;

/**
 * Holds a finished {@code criu dump} at its post-dump action script until the migration decides.
 *
 * <p>CRIU runs the action script after every page has left through the page server and every image file
 * is written, but before it applies the final task state. Our script connects here, says "dumped", and
 * waits for one word: "commit" lets CRIU finish (the tasks stay stopped, {@code --leave-stopped}); anything
 * else, including the connection dropping because the agent died, makes the script fail, and CRIU then
 * rolls back by itself: it unlocks the network (removes its iptables rules and takes the TCP sockets out of
 * repair mode, which nothing outside the dumped process can do) and resumes the tasks. That is the safest
 * rollback there is, so the migration engine keeps CRIU waiting here until the destination runs.
 *
 * <p>Lives on the event loop that created it.
 */
public final class PostDumpGate {
  private static final SecureRandom RANDOM = new SecureRandom();

  private final NetServer server;
  private final String host;
  private final String secret;
  private final Promise<Void> dumped = Promise.promise();
  private NetSocket script;
  private String pendingVerdict;

  private PostDumpGate(NetServer server, String host, String secret) {
    this.server = server;
    this.host = host;
    this.secret = secret;
  }

  /** Listens on {@code host} (an address the dump's network namespace reaches; 127.0.0.1 in the agent). */
  public static Future<PostDumpGate> listen(Vertx vertx, String host) {
    byte[] bytes = new byte[16];
    RANDOM.nextBytes(bytes);
    NetServer server = vertx.createNetServer(new NetServerOptions().setHost(host).setPort(0));
    PostDumpGate gate = new PostDumpGate(server, host, HexFormat.of().formatHex(bytes));
    server.connectHandler(gate::handleScript);
    return server.listen().map(ignored -> gate);
  }

  private void handleScript(NetSocket socket) {
    RecordParser lines = RecordParser.newDelimited("\n", line -> {
      if (script == null && line.toString().equals("dumped " + secret)) {
        script = socket;
        socket.closeHandler(ignored -> dumped.tryFail("the post-dump script went away"));
        if (pendingVerdict != null) {
          send(pendingVerdict);
        }
        dumped.tryComplete();
      } else if (script != socket) {
        socket.close();
      }
    });
    lines.maxRecordSize(256);
    lines.exceptionHandler(e -> socket.close());
    socket.handler(lines);
  }

  /** Completes when CRIU finished dumping and waits for the verdict. */
  public Future<Void> dumped() {
    return dumped.future();
  }

  /** Lets CRIU end successfully: the dumped tasks stay stopped, the network stays locked. */
  public void commit() {
    verdict("commit");
  }

  /**
   * The restore request may reach the destination from now on: should the agent die, the script must not
   * roll back (the destination may run the workload) but wait for the verdict file named in the script
   * ({@link #writeScript(Path, Duration, Path)}), which a restarted agent writes once the destination's
   * verdict is known. Sent only when the script waits (after {@link #dumped()}).
   */
  public void hold() {
    if (script != null && pendingVerdict == null) {
      script.write(Buffer.buffer("hold\n"));
    }
  }

  /** Makes CRIU roll back: network unlocked, tasks resumed. Harmless before the script connected. */
  public void rollback() {
    verdict("rollback");
  }

  private void verdict(String word) {
    if (pendingVerdict != null) {
      return;
    }
    pendingVerdict = word;
    if (script != null) {
      send(word);
    }
  }

  private void send(String word) {
    script.write(Buffer.buffer(word + "\n")).onComplete(ignored -> script.close());
  }

  /** Stops listening and lets go of a waiting script (which then makes CRIU roll back, unless committed). */
  public Future<Void> close() {
    dumped.tryFail("the post-dump gate closed");
    if (script != null) {
      script.close();
    }
    return server.close();
  }

  /**
   * Writes the action script CRIU runs (bash for /dev/tcp), returns its path. The script waits at most
   * {@code maxWait} for the verdict, then fails (rollback): it must never hold a frozen workload forever,
   * whatever happens to the agent or to the network path to it. Blocking.
   */
  public Path writeScript(Path dir, Duration maxWait) throws IOException {
    return writeScript(dir, maxWait, null);
  }

  /**
   * As {@link #writeScript(Path, Duration)}; once told {@link #hold()}, losing the agent (or the wait running
   * out) no longer rolls back: the script then waits, without limit, for {@code verdictFile} to say "commit"
   * or "rollback" (never two copies: only the destination's verdict may resume a workload it could run).
   */
  public Path writeScript(Path dir, Duration maxWait, Path verdictFile) throws IOException {
    Path path = dir.resolve("post-dump-gate.sh");
    String held = verdictFile == null ? "" : "[ -n \"$held\" ] || exit 12\n"
        + "# held: the destination may run it; only its verdict (written by a restarted agent) settles it\n"
        + "while [ ! -s '" + verdictFile + "' ]; do sleep 0.2; done\n"
        + "read -r verdict < '" + verdictFile + "'\n"
        + "[ \"$verdict\" = commit ] || exit 14\n"
        + "exit 0\n";
    String text = "#!/bin/bash\n"
        + "# UMS: hold a finished dump until the destination runs it (see PostDumpGate)\n"
        + "[ \"$CRTOOLS_SCRIPT_ACTION\" = post-dump ] || exit 0\n"
        + "exec 3<>/dev/tcp/" + host + "/" + server.actualPort() + " || exit 10\n"
        + "printf 'dumped %s\\n' " + secret + " >&3 || exit 11\n"
        + "held=\n"
        + "while read -r -t " + Math.max(1, maxWait.toSeconds()) + " verdict <&3; do\n"
        + "  case \"$verdict\" in hold) held=1 ;; commit) exit 0 ;; *) exit 13 ;; esac\n"
        + "done\n"
        + held
        + "exit 12\n";
    Files.writeString(path, text);
    Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwx------"));
    return path;
  }
}
