package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.host.HostCommand;
import io.ums.testkit.MemServiceClient;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a destination cannot take, on two real agents with real CRIU: its session directory is a real
 * 8 MiB tmpfs and the workload has 32 MiB of memory. The source must report the destination's
 * "no space left on device", not its own broken pipe (issue 15, item 9), and resume.
 */
@Tag("slow")
class DestinationLimitsTest {
  @TempDir
  Path dir;

  private MigrationTestBed bed;
  private Path smallDisk;

  @AfterEach
  void tearDown() throws Exception {
    if (bed != null) {
      bed.close();
    }
    if (smallDisk != null) {
      HostCommand.run("umount", "-l", smallDisk.toString());
    }
  }

  @Test
  void aFullDestinationDiskIsReportedAsTheDestinationsNoSpace() throws Exception {
    JsonObject workload = startAgentsWithSessionsOnATmpfsOf("8m");
    String checksum = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 5000).checksum();

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));
    System.out.println("rolled back: " + status.encode());

    assertRolledBackForTheDestinationsFullDisk(status, checksum);
    assertThat(status.getJsonObject("error").getString("message"))
        .contains(smallDisk.resolve("sessions").toString()).doesNotContainIgnoringCase("broken pipe");
    try (var left = Files.list(smallDisk.resolve("sessions"))) {
      assertThat(left.toList()).as("session files on the small disk").isEmpty();
    }
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  /**
   * Post-copy puts only the small image files in the session directory (the pages go to the lazy-pages
   * daemon), so a 64 KiB one is what fills up; the answer must still name the destination's full disk.
   */
  @Test
  void aFullDestinationDiskInPostCopyIsReportedAsTheDestinationsNoSpace() throws Exception {
    JsonObject workload = startAgentsWithSessionsOnATmpfsOf("64k");
    String checksum = MemServiceClient.verify(bed.a.node.address(), MigrationTestBed.SERVICE_PORT, 5000).checksum();

    JsonObject status = bed.migratePostCopy(bed.a, bed.b, workload.getString("id"));
    System.out.println("post-copy rolled back: " + status.encode());

    assertRolledBackForTheDestinationsFullDisk(status, checksum);
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  /** Two real agents whose destination keeps its sessions on a real tmpfs of {@code size}; a 32 MiB workload on A. */
  private JsonObject startAgentsWithSessionsOnATmpfsOf(String size) throws Exception {
    smallDisk = Files.createDirectories(dir.resolve("small-disk"));
    HostCommand.check("mount", "-t", "tmpfs", "-o", "size=" + size, "ums-test-small", smallDisk.toString());
    bed = new MigrationTestBed(dir, List.of(),
        List.of("-Dums.migration.sessionRoot=" + smallDisk.resolve("sessions")), 10);
    return bed.launch(bed.a, 32);
  }

  /** Rolled back with the destination's DESTINATION_NO_SPACE naming its node, the source answering as before. */
  private void assertRolledBackForTheDestinationsFullDisk(JsonObject status, String checksum) throws Exception {
    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    JsonObject error = status.getJsonObject("error");
    assertThat(error.getString("code")).as(error.encode()).isEqualTo("DESTINATION_NO_SPACE");
    assertThat(error.getString("message")).as(error.encode())
        .contains("node " + bed.b.node.name(), "no space left on device");
    bed.assertAnswersWithinASecond(bed.a, checksum);
    assertThat(bed.workloads(bed.b)).isEmpty();
  }
}
