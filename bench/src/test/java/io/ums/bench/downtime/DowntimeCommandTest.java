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

  @Test
  void thePodApproachMeasuresTheProcessThenThePodOnTheUnlimitedLink() {
    DowntimeBench.Settings settings = settings("--approach", "pod", "--sizes", "256", "--runs", "3");

    assertThat(settings.methods()).containsExactly("ums", DowntimeCommand.POD_METHOD);
    assertThat(settings.links()).containsExactly("unlimited");
    assertThat(settings.sizesMiB()).containsExactly(256);
    assertThat(settings.runs()).isEqualTo(3);
    assertThat(settings.command()).isEqualTo("./ums bench downtime --sizes 256 --link unlimited --runs 3"
        + " --approach pod");
  }

  @Test
  void thePodApproachWithOtherMethodsStillMeasuresThePod() {
    assertThat(settings("--approach", "pod", "--methods", "ums,wire").methods())
        .containsExactly("ums", DowntimeCommand.POD_METHOD, "wire");
  }

  @Test
  void thePodApproachRefusesALimitedLink() {
    DowntimeCommand command = new DowntimeCommand();
    int exit = new CommandLine(command).execute("--approach", "pod", "--link", "1gbit");

    assertThat(exit).isEqualTo(2);
  }

  @Test
  void umsPodIsAKnownMethod() {
    assertThat(settings("--methods", "ums-pod").methods()).containsExactly(DowntimeCommand.POD_METHOD);
  }

  private static DowntimeBench.Settings settings(String... arguments) {
    DowntimeCommand command = new DowntimeCommand();
    new CommandLine(command).parseArgs(arguments);
    return command.settings();
  }
}
