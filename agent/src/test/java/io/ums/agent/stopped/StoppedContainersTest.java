package io.ums.agent.stopped;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The records and signals of {@link StoppedContainers} on a REAL process (a {@code sleep} this test starts)
 * whose "cgroup" is a directory laid out as the kubelet's cgroupfs driver lays it out, holding its pid.
 */
class StoppedContainersTest {
  private static final String ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

  @TempDir
  Path dir;

  private Vertx vertx;
  private Process sleeper;
  private Path work;
  private ContainerCgroups cgroups;

  @BeforeEach
  void container() throws IOException {
    vertx = Vertx.vertx();
    sleeper = new ProcessBuilder("sleep", "300").start();
    Path cgroup = Files.createDirectories(dir.resolve("freezer/node/kubepods/besteffort/pod1234").resolve(ID));
    Files.writeString(cgroup.resolve("cgroup.procs"), sleeper.pid() + "\n");
    cgroups = new ContainerCgroups(dir.resolve("freezer"));
    work = dir.resolve("work");
  }

  @AfterEach
  void cleanUp() throws Exception {
    sleeper.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void aHeldContainerIsRecordedCheckedAndResumed() throws Exception {
    StoppedContainers stopped = new StoppedContainers(vertx, cgroups, work);
    get(stopped.claim(ID, "m1"));
    assertThat(work.resolve("stopped-containers").resolve(ID + ".json")).exists();
    assertThatThrownBy(() -> get(stopped.claim(ID, "m2"))).hasMessageContaining("held by migration m1");
    assertThatThrownBy(() -> get(stopped.verifyStopped(ID))).hasMessageContaining("left container " + ID
        + " running");

    signal("STOP");
    get(stopped.verifyStopped(ID));
    JsonObject resumed = get(stopped.resume(ID, "rolled back"));

    assertThat(resumed.getString("outcome")).isEqualTo("resumed");
    await().atMost(Duration.ofSeconds(10)).until(() -> state() != 'T');
    assertThat(work.resolve("stopped-containers").resolve(ID + ".json")).doesNotExist();
    assertThat(stopped.list()).isEmpty();
  }

  @Test
  void aRestartResumesWhatTheMigrationLeftAndAHoldExpires() throws Exception {
    get(new StoppedContainers(vertx, cgroups, work).claim(ID, "m1"));
    signal("STOP");

    StoppedContainers restarted = new StoppedContainers(vertx, cgroups, work);
    assertThat(get(restarted.recover())).isEqualTo(1);
    await().atMost(Duration.ofSeconds(10)).until(() -> state() != 'T');

    get(restarted.claim(ID, "m2"));
    signal("STOP");
    get(restarted.awaitSwitch(ID, Duration.ofMillis(300)));
    await().atMost(Duration.ofSeconds(10)).until(() -> state() != 'T');
    await().atMost(Duration.ofSeconds(10)).until(() -> restarted.list().isEmpty());
  }

  @Test
  void aContainerWaitingForTheSwitchSurvivesARestartAndIsKilled() throws Exception {
    StoppedContainers stopped = new StoppedContainers(vertx, cgroups, work);
    get(stopped.claim(ID, "m1"));
    signal("STOP");
    get(stopped.awaitSwitch(ID, Duration.ofMinutes(5)));

    StoppedContainers restarted = new StoppedContainers(vertx, cgroups, work);
    assertThat(get(restarted.recover())).isZero();
    assertThat(state()).as("still waiting for the switch").isEqualTo('T');
    JsonObject killed = get(restarted.kill(ID));

    assertThat(killed.getString("outcome")).isEqualTo("killed");
    assertThat(sleeper.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(sleeper.exitValue()).isEqualTo(128 + 9);
  }

  /**
   * The destination runs the pod: once committed, nothing resumes the container, neither a resume call, nor the
   * hold's expiry, nor a restart of the agent; only its end (kill) settles it.
   */
  @Test
  void aCommittedContainerIsNeverResumed() throws Exception {
    StoppedContainers stopped = new StoppedContainers(vertx, cgroups, work);
    get(stopped.claim(ID, "m1"));
    signal("STOP");
    get(stopped.awaitSwitch(ID, Duration.ofMillis(500)));
    assertThat(get(stopped.commit(ID)).getBoolean("committed")).isTrue();

    assertThatThrownBy(() -> get(stopped.resume(ID, "a late rollback"))).hasMessageContaining("committed");
    StoppedContainers restarted = new StoppedContainers(vertx, cgroups, work);
    assertThat(get(restarted.recover())).as("nothing resumed after a restart").isZero();
    // past the hold (500 ms): an expiry, had one been armed, would have resumed it
    await().during(Duration.ofMillis(1_500)).atMost(Duration.ofSeconds(10)).until(() -> state() == 'T');
    assertThat(restarted.list()).hasSize(1);
    assertThatThrownBy(() -> get(restarted.resume(ID, "a late rollback"))).hasMessageContaining("committed");

    assertThat(get(restarted.kill(ID)).getString("outcome")).isEqualTo("killed");
    assertThat(sleeper.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(restarted.list()).isEmpty();
  }

  /** A committed container its pod's deletion ended while the agent was down: a restart forgets it. */
  @Test
  void aCommittedContainerThatIsGoneIsForgottenAtRestart() throws Exception {
    StoppedContainers stopped = new StoppedContainers(vertx, cgroups, work);
    get(stopped.claim(ID, "m1"));
    signal("STOP");
    get(stopped.commit(ID));
    sleeper.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    Files.writeString(cgroups.find(ID).orElseThrow().resolve("cgroup.procs"), "");

    StoppedContainers restarted = new StoppedContainers(vertx, cgroups, work);
    assertThat(get(restarted.recover())).isZero();
    assertThat(restarted.list()).isEmpty();
    assertThat(work.resolve("stopped-containers").resolve(ID + ".json")).doesNotExist();
  }

  private void signal(String name) throws Exception {
    assertThat(new ProcessBuilder("kill", "-" + name, Long.toString(sleeper.pid())).start().waitFor()).isZero();
    if (name.equals("STOP")) {
      await().atMost(Duration.ofSeconds(10)).until(() -> state() == 'T');
    }
  }

  private char state() throws IOException {
    String stat = Files.readString(Path.of("/proc", Long.toString(sleeper.pid()), "stat"));
    return stat.charAt(stat.lastIndexOf(')') + 2);
  }

  private static <T> T get(Future<T> future) throws Exception {
    try {
      return future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof Exception cause ? cause : e;
    }
  }
}
