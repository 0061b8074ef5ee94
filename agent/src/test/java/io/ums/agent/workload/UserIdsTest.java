package io.ums.agent.workload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A workload's "user" resolved against a passwd file: names, numbers, uid:gid, and unknown users named. */
class UserIdsTest {
  @TempDir
  Path dir;

  private Path passwd() throws Exception {
    return Files.writeString(dir.resolve("passwd"), "root:x:0:0:root:/root:/bin/bash\n"
        + "postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n");
  }

  @Test
  void aNameGivesItsUidAndPrimaryGroup() throws Exception {
    assertThat(UserIds.resolve("postgres", passwd())).isEqualTo(new UserIds(101, 104));
  }

  @Test
  void aKnownUidGivesItsPrimaryGroupAnUnknownOneItsOwnNumber() throws Exception {
    assertThat(UserIds.resolve("101", passwd())).isEqualTo(new UserIds(101, 104));
    assertThat(UserIds.resolve("2000", passwd())).isEqualTo(new UserIds(2000, 2000));
  }

  @Test
  void uidAndGidAreTakenAsGiven() throws Exception {
    assertThat(UserIds.resolve("101:5", passwd())).isEqualTo(new UserIds(101, 5));
  }

  @Test
  void anUnknownNameIsTheRequestsFaultNamingTheField() throws Exception {
    assertThatThrownBy(() -> UserIds.resolve("mysql", passwd()))
        .isInstanceOfSatisfying(InvalidWorkloadSpecException.class, e -> assertThat(e.field()).isEqualTo("user"))
        .hasMessageContaining("no user \"mysql\"");
  }

  @Test
  void theKernelsNoIdIsRefused() throws Exception {
    assertThatThrownBy(() -> UserIds.resolve("4294967295", passwd()))
        .isInstanceOf(InvalidWorkloadSpecException.class).hasMessageContaining("up to 4294967294");
  }
}
