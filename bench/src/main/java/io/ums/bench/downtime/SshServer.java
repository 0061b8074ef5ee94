package io.ums.bench.downtime;

import io.ums.host.HostCommand;
import io.ums.testkit.NetworkTestbed;
import io.ums.bench.local.ChildProcess;
import io.ums.bench.local.Cleanup;
import io.ums.bench.local.Waits;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A real sshd inside the destination node's namespace for the rsync-ssh baseline, with a host key and a
 * client key generated for this run only; both die with the run.
 */
final class SshServer {
  static final int PORT = 2222;

  private final NetworkTestbed.Node node;
  private final Path clientKey;

  private SshServer(NetworkTestbed.Node node, Path clientKey) {
    this.node = node;
    this.clientKey = clientKey;
  }

  static SshServer start(NetworkTestbed.Node node, Path dir, Cleanup cleanup) {
    try {
      Files.createDirectories(dir);
      Path hostKey = dir.resolve("host_ed25519");
      Path clientKey = dir.resolve("client_ed25519");
      HostCommand.check("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey.toString());
      HostCommand.check("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", clientKey.toString());
      Path authorized = dir.resolve("authorized_keys");
      Files.copy(dir.resolve("client_ed25519.pub"), authorized);
      Path config = dir.resolve("sshd_config");
      Files.writeString(config, String.join("\n",
          "Port " + PORT,
          "ListenAddress " + node.address(),
          "HostKey " + hostKey,
          "AuthorizedKeysFile " + authorized,
          "PidFile none",
          "PermitRootLogin prohibit-password",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "UsePAM no",
          "StrictModes no",
          "PrintMotd no",
          "") );
      // sshd refuses to start without its privilege-separation directory
      Files.createDirectories(Path.of("/run/sshd"));
      ChildProcess sshd = ChildProcess.start("sshd on " + node.name(),
          node.inNode(List.of("/usr/sbin/sshd", "-D", "-e", "-f", config.toString())), dir.resolve("sshd.log"));
      cleanup.push(sshd.name(), sshd::close);
      Waits.until("sshd on " + node.address() + ":" + PORT, Duration.ofSeconds(10), 20, () -> {
        if (!sshd.isAlive()) {
          throw new IllegalStateException("sshd exited: " + io.ums.bench.local.Commands.tail(sshd.log()));
        }
        try (Socket socket = new Socket()) {
          socket.connect(new InetSocketAddress(node.address(), PORT), 200);
          return true;
        } catch (IOException notYet) {
          return false;
        }
      });
      return new SshServer(node, clientKey);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The remote shell for {@code rsync -e}: this run's key, no host-key bookkeeping. */
  String rsyncShell() {
    return "ssh -i " + clientKey + " -p " + PORT
        + " -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR";
  }

  String target(Path remoteDir) {
    return "root@" + node.address() + ":" + remoteDir + "/";
  }
}
