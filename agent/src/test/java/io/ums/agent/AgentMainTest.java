package io.ums.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The command line: documented defaults, required options, and the image subcommand's place. */
class AgentMainTest {
  @Test
  void defaultsAreTheDocumentedOnes() {
    AgentMain main = new AgentMain();
    new CommandLine(main).parseArgs("--node", "a", "--work-dir", "/tmp/w");
    assertThat(main.controlPort).isEqualTo(7070);
    assertThat(main.dataPort).isEqualTo(7071);
    assertThat(main.gracePeriodSeconds).isEqualTo(30);
    assertThat(main.bindHost).isEqualTo("0.0.0.0");
    assertThat(main.workDir).isEqualTo(Path.of("/tmp/w"));
    assertThat(main.tokenFile).isNull();
    assertThat(main.kubeletUrl).isNull();
    assertThat(main.kubeletCheckpointDir).isEqualTo(Path.of("/var/lib/kubelet/checkpoints"));
    assertThat(main.checkpointImages).isEqualTo("containers-storage");
  }

  @Test
  void badKubeletOptionsAreUsageErrors() {
    for (String[] args : new String[][] {
        {"--checkpoint-images", "docker"},
        {"--kubelet-url", "ftp://node:10250"},
        {"--kubelet-url", "https://node:10250", "--kubelet-ca", "/ca.pem", "--kubelet-insecure-tls"},
        {"--kubelet-token-file", "/nonexistent/token"}}) {
      StringWriter err = new StringWriter();
      String[] full = java.util.stream.Stream.concat(java.util.stream.Stream.of("--node", "a", "--work-dir", "/tmp/w"),
          java.util.Arrays.stream(args)).toArray(String[]::new);
      assertThat(new CommandLine(new AgentMain()).setErr(new PrintWriter(err)).execute(full)).as(args[0]).isEqualTo(2);
      assertThat(err.toString()).contains(args[0]);
    }
  }

  @Test
  void unreadableTokenOrHalfATlsPairStopsTheStartNamingTheFlag(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    Path empty = java.nio.file.Files.writeString(dir.resolve("empty.token"), "\n");
    for (String[] args : new String[][] {
        {"--control-token-file", dir.resolve("missing.token").toString()},
        {"--control-token-file", empty.toString()},
        {"--tls-cert", empty.toString()},
        {"--tls-cert", empty.toString(), "--tls-key", empty.toString()}}) {
      StringWriter err = new StringWriter();
      String[] full = java.util.stream.Stream.concat(java.util.stream.Stream.of("--node", "a", "--work-dir",
          dir.resolve("w").toString()), java.util.Arrays.stream(args)).toArray(String[]::new);
      assertThat(new CommandLine(new AgentMain()).setErr(new PrintWriter(err)).execute(full))
          .as(String.join(" ", args)).isEqualTo(2);
      assertThat(err.toString()).as(String.join(" ", args)).contains(args[args.length - 2].equals("--tls-key")
          ? "--tls-cert" : args[0]);
    }
  }

  @Test
  void missingRequiredOptionsAreUsageErrors() {
    StringWriter err = new StringWriter();
    assertThat(new CommandLine(new AgentMain()).setErr(new PrintWriter(err)).execute("--node", "a")).isEqualTo(2);
    assertThat(err.toString()).contains("--work-dir");
  }

  @Test
  void theImageSubcommandRunsWithoutAgentOptions(@org.junit.jupiter.api.io.TempDir Path dir) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    Path tarball = io.ums.testkit.BusyboxImages.baseLayer(dir);
    CommandLine cli = new CommandLine(new AgentMain()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err));
    assertThat(cli.execute("image", "import", "busybox", tarball.toString(), "--work-dir", dir.toString()))
        .isEqualTo(0);
    assertThat(cli.execute("image", "list", "--work-dir", dir.toString())).isEqualTo(0);
    assertThat(out.toString()).contains("\"name\" : \"busybox\"").containsPattern("busybox +1 layer");
    assertThat(cli.execute("image", "import", "busybox", tarball.toString(), "--work-dir", dir.toString()))
        .isEqualTo(1);
    assertThat(err.toString()).contains("ALREADY_EXISTS");
  }

  @Test
  void theAdvertisedHostIsTheBindAddressUnlessItIsTheWildcard() {
    assertThat(AgentMain.defaultAdvertiseHost("10.1.2.3")).isEqualTo("10.1.2.3");
    assertThat(AgentMain.defaultAdvertiseHost("0.0.0.0")).isNotEqualTo("0.0.0.0");
  }
}
