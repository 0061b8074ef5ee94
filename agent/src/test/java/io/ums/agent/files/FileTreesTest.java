package io.ums.agent.files;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.host.HostCommand;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Deleting a tree with real mounts left below it (as root, with real tmpfs and cgroup2 mounts). CI saw a
 * restarted agent fail to start: a {@code criu restore} killed with the previous agent had left its cgroup
 * yard (a cgroup2 mount of the host's whole hierarchy) in the session directory, and the walk tried to
 * delete the host's cgroup files ("memory.pressure: Operation not permitted").
 */
class FileTreesTest {
  private static final Path HOST_CGROUP2 = Path.of("/sys/fs/cgroup/unified");

  @TempDir
  Path dir;

  private Path hostMarkerCgroup;

  @AfterEach
  void cleanUp() throws Exception {
    HostCommand.run("sh", "-c", "grep -o ' " + dir + "/[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l");
    if (hostMarkerCgroup != null) {
      Files.deleteIfExists(hostMarkerCgroup);
    }
  }

  @Test
  void aTmpfsMountedBelowIsDetachedAndTheTreeGoes() throws Exception {
    Path session = Files.createDirectories(dir.resolve("recv-1/images"));
    Files.writeString(session.resolve("core-1.img"), "pages");
    Path mounted = Files.createDirectories(dir.resolve("recv-1/.criu.mnt"));
    HostCommand.check("mount", "-t", "tmpfs", "ums-test-filetrees", mounted.toString());
    Files.writeString(mounted.resolve("left.txt"), "by a killed process");

    FileTrees.delete(dir.resolve("recv-1"));

    assertThat(dir.resolve("recv-1")).doesNotExist();
    assertThat(Files.readString(Path.of("/proc/self/mountinfo"))).doesNotContain(dir.toString());
  }

  @Test
  void aCgroupYardLeftByAKilledRestoreIsDetachedWithoutTouchingTheHostsCgroups() throws Exception {
    hostMarkerCgroup = Files.createDirectory(HOST_CGROUP2.resolve("ums-test-" + UUID.randomUUID()));
    Path yard = Files.createDirectories(dir.resolve("recv-2/.criu.cgyard.Qfj4RX/unified"));
    HostCommand.check("mount", "-t", "cgroup2", "none", yard.toString());
    assertThat(yard.resolve(hostMarkerCgroup.getFileName())).as("the yard shows the host's hierarchy").isDirectory();

    FileTrees.delete(dir.resolve("recv-2"));

    assertThat(dir.resolve("recv-2")).doesNotExist();
    assertThat(hostMarkerCgroup).as("the host's cgroup, seen through the yard").isDirectory();
    assertThat(hostMarkerCgroup.resolve("cgroup.procs")).exists();
  }

  @Test
  void mountPointsWithSpacesAreReadAsTheyAre() {
    assertThat(FileTrees.unescape("/tmp/a\\040b\\134c")).isEqualTo("/tmp/a b\\c");
    assertThat(FileTrees.unescape("/tmp/plain\\0")).isEqualTo("/tmp/plain\\0");
  }
}
