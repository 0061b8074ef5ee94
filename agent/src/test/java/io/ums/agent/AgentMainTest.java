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
  }

  @Test
  void missingRequiredOptionsAreUsageErrors() {
    StringWriter err = new StringWriter();
    assertThat(new CommandLine(new AgentMain()).setErr(new PrintWriter(err)).execute("--node", "a")).isEqualTo(2);
    assertThat(err.toString()).contains("--work-dir");
  }

  @Test
  void theImageSubcommandRunsWithoutAgentOptionsAndIsNotBuiltYet() {
    StringWriter err = new StringWriter();
    assertThat(new CommandLine(new AgentMain()).setErr(new PrintWriter(err)).execute("image", "list"))
        .isEqualTo(AgentMain.ImageCommand.NOT_BUILT);
    assertThat(err.toString()).contains("not built yet");
  }

  @Test
  void theAdvertisedHostIsTheBindAddressUnlessItIsTheWildcard() {
    assertThat(AgentMain.defaultAdvertiseHost("10.1.2.3")).isEqualTo("10.1.2.3");
    assertThat(AgentMain.defaultAdvertiseHost("0.0.0.0")).isNotEqualTo("0.0.0.0");
  }
}
