package io.ums.agent.image;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ledger of imported checkpoint images, over an OCI layout store (which keeps its images as they are: a
 * late retirement there only settles the record). Retiring in containerd is tested on the real cluster
 * ({@code ConsistentPodMigrationTest}).
 */
class CheckpointImageLedgerTest {
  private static final Duration AGE = Duration.ofMinutes(30);

  @TempDir
  Path dir;

  private CheckpointImageLedger ledger() {
    return new CheckpointImageLedger(dir.resolve("work"), CheckpointImages.parse("oci:" + dir.resolve("store")));
  }

  @Test
  void anImportIsRecordedUntilItIsSettledAndARecordSurvivesANewLedger() {
    CheckpointImageLedger ledger = ledger();
    ledger.imported("localhost/ums-checkpoint/web-app:1", 1_000);
    ledger.imported("localhost/ums-checkpoint/web-app:2", 2_000);

    assertThat(ledger().pending()).as("read by another instance: a restarted agent")
        .containsExactlyInAnyOrder("localhost/ums-checkpoint/web-app:1", "localhost/ums-checkpoint/web-app:2");
    ledger.settled("localhost/ums-checkpoint/web-app:1");
    ledger.settled("localhost/ums-checkpoint/web-app:1");
    assertThat(ledger.pending()).containsExactly("localhost/ums-checkpoint/web-app:2");
  }

  @Test
  void onlyImagesOlderThanTheAgeAreTakenUpAndAStoreThatKeepsItsImagesSettlesThem() {
    CheckpointImageLedger ledger = ledger();
    long now = 10 * AGE.toMillis();
    ledger.imported("localhost/ums-checkpoint/old-app:1", now - AGE.toMillis());
    ledger.imported("localhost/ums-checkpoint/young-app:1", now - AGE.toMillis() + 1);

    assertThat(ledger.retireOlderThan(AGE, now)).as("an OCI store retires nothing").isEmpty();

    assertThat(ledger.pending()).as("the old one settled (UNSUPPORTED), the young one waits")
        .containsExactly("localhost/ums-checkpoint/young-app:1");
  }

  @Test
  void anUnreadableRecordIsDropped() throws Exception {
    CheckpointImageLedger ledger = ledger();
    ledger.imported("localhost/ums-checkpoint/web-app:1", 1_000);
    Path records = dir.resolve("work").resolve(CheckpointImageLedger.DIR);
    Files.writeString(records.resolve("broken.json"), "{not json");
    Files.writeString(records.resolve("empty.json"), "{}");

    assertThat(ledger.pending()).containsExactly("localhost/ums-checkpoint/web-app:1");
    try (var files = Files.list(records)) {
      assertThat(files.map(file -> file.getFileName().toString())).hasSize(1).allMatch(name -> name.endsWith(".json"));
    }
  }
}
