package io.ums.bench.downtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The command line alone: which methods {@code --approach} makes the bench measure. */
class DowntimeCommandTest {
  @Test
  void theProcessApproachMeasuresTheDefaultMethods() {
    assertThat(settings().methods()).isEqualTo(DowntimeCommand.METHODS);
  }

  @Test
  void theContainerApproachAddsUmsRuncRightAfterUms() {
    DowntimeBench.Settings settings = settings("--approach", "container");

    assertThat(settings.methods()).containsExactly("ums", "ums-runc", "rsync-ssh", "criu-page-server", "wire");
    assertThat(settings.command()).endsWith("--approach container");
  }

  @Test
  void theContainerApproachWithOtherMethodsStillMeasuresUmsRunc() {
    assertThat(settings("--approach", "container", "--methods", "wire").methods())
        .isEqualTo(List.of("ums-runc", "wire"));
  }

  private static DowntimeBench.Settings settings(String... arguments) {
    DowntimeCommand command = new DowntimeCommand();
    new CommandLine(command).parseArgs(arguments);
    return command.settings();
  }
}
