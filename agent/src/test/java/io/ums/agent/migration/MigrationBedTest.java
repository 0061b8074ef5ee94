package io.ums.agent.migration;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the two-agent migration tests share: a temporary directory for the {@link MigrationTestBed} each test
 * starts with its own settings, and the bed's close after every test, a failed one too.
 */
abstract class MigrationBedTest {
  @TempDir
  Path dir;

  /** The test's two agents; null until the test starts them. */
  MigrationTestBed bed;

  @AfterEach
  void closeBed() throws Exception {
    if (bed != null) {
      bed.close();
    }
  }
}
