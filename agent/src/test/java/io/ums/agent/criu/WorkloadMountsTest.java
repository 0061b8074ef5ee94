package io.ums.agent.criu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the images of a workload launched with a user change in CRIU's arguments: nothing for one sharing the
 * agent's namespaces; with a user namespace in the images, live connections are restored closed.
 */
class WorkloadMountsTest {
  @TempDir
  Path images;

  @Test
  void aProcessInTheAgentsMountNamespaceDumpsNoExternalMounts() {
    assertThat(WorkloadMounts.dumpArguments(ProcessHandle.current().pid())).isEmpty();
    assertThat(WorkloadMounts.inOwnUserNamespace(ProcessHandle.current().pid())).isFalse();
  }

  @Test
  void imagesWithAUserNamespaceAreRestoredWithConnectionsClosed() throws Exception {
    CriuRestore.Options options = new CriuRestore.Options(images, images, Optional.empty(), images.resolve("out"),
        true);
    assertThat(CriuRestore.arguments(options)).contains("--tcp-established");
    assertThat(WorkloadMounts.hasMountNamespace(images)).isFalse();

    Files.createFile(images.resolve("userns-12.img"));
    Files.createFile(images.resolve("mountpoints-11.img"));

    assertThat(CriuRestore.arguments(options)).contains("--tcp-close").doesNotContain("--tcp-established");
    assertThat(WorkloadMounts.hasMountNamespace(images)).isTrue();
  }
}
