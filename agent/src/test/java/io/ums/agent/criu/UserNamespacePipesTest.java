package io.ums.agent.criu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lift of the pipe soft limit, on a file standing in for the sysctl (the real one is changed only by
 * {@code IpcPtyFifoMigrationTest}, which puts it back), and the read of the real sysctl.
 */
class UserNamespacePipesTest {
  @TempDir
  Path dir;

  @Test
  void aSetSoftLimitIsLiftedToZeroAndALiftedOneIsLeftAlone() throws Exception {
    Path sysctl = Files.writeString(dir.resolve("pipe-user-pages-soft"), "16384\n");
    UserNamespacePipes.liftSoftLimit(sysctl);
    assertThat(Files.readString(sysctl)).isEqualTo("0\n");

    Files.writeString(sysctl, "0");
    UserNamespacePipes.liftSoftLimit(sysctl);
    assertThat(Files.readString(sysctl)).as("not written again").isEqualTo("0");
  }

  @Test
  void aSysctlThatCannotBeReadOrWrittenIsOnlyLogged() {
    UserNamespacePipes.liftSoftLimit(dir.resolve("absent/pipe-user-pages-soft"));
    assertThat(dir.resolve("absent")).doesNotExist();
  }

  @Test
  void theRealSysctlIsReadWhole() throws Exception {
    String pages = UserNamespacePipes.read(UserNamespacePipes.SOFT_LIMIT);
    assertThat(pages).matches("\\d+");
    assertThat(pages).isEqualTo(new String(new ProcessBuilder("cat", UserNamespacePipes.SOFT_LIMIT.toString())
        .start().getInputStream().readAllBytes()).trim());
  }
}
