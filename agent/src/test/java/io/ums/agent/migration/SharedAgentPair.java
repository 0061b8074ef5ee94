package io.ums.agent.migration;

import io.ums.agent.files.FileTrees;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One pair of agents (two network-namespace nodes, real CRIU) for a whole test class, as a static
 * {@code @RegisterExtension} field: started before the class, every test's workloads removed after it, the
 * agents, nodes and their directory removed after the class, even when a test failed.
 */
final class SharedAgentPair implements BeforeAllCallback, AfterEachCallback, AfterAllCallback {
  private final String prefix;
  private final Consumer<MigrationTestBed> started;
  private Path dir;
  private MigrationTestBed bed;

  /**
   * {@code prefix}: the nodes' network-namespace prefix, told apart from other classes' in a failure;
   * {@code started} gets the pair before the class's first test (the class keeps it in a static field).
   */
  SharedAgentPair(String prefix, Consumer<MigrationTestBed> started) {
    this.prefix = prefix;
    this.started = started;
  }

  /** The class's directory: the agents' work directories are in it, tests may put their files there. */
  Path dir() {
    return dir;
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    dir = Files.createTempDirectory("ums-" + prefix + "-");
    bed = new MigrationTestBed(dir, prefix, List.of(), List.of(), 10);
    started.accept(bed);
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    bed.removeAllWorkloads();
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    try {
      if (bed != null) {
        bed.close();
      }
    } finally {
      bed = null;
      FileTrees.delete(dir);
    }
  }
}
