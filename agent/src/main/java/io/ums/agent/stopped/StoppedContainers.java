package io.ums.agent.stopped;

import io.ums.agent.error.AgentException;
import io.ums.agent.error.ApiError;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The containers this agent keeps stopped for a consistent migration (interface kubelet-consistent): the
 * node's runtime leaves a checkpointed container stopped (CRIU's leave-stopped), and it stays so until the
 * switch. Each is recorded in the work dir ({@code stopped-containers/<container id>.json}) from before the
 * checkpoint until it is settled, so a container is never left stopped forever:
 * <ul>
 *   <li>while its migration runs, the migration owns it: a rollback resumes it (SIGCONT: it goes on where it
 *       stopped, with its TCP connections);</li>
 *   <li>once the destination imported the checkpoint, it waits for the switch: the coordinator resumes it
 *       ({@code .../resume}: the destination pod did not start), or commits it ({@code .../commit}: the
 *       destination pod is Ready), BEFORE it deletes the source pod; a hold nobody settles resumes it when it
 *       expires;</li>
 *   <li>a committed container never runs again: no resume, no expiry, not even after a restart (the record
 *       says so). The pod's deletion ends it: the kubelet stops it itself (SIGTERM stays pending on a stopped
 *       process, the SIGKILL after the grace period kills it), so the kubelet never sees a container die that
 *       it should restart. The coordinator's {@code .../kill} once the pod is gone only finishes the job;</li>
 *   <li>an agent that restarts resumes every container whose migration died with its previous run, and re-arms
 *       the expiry of those waiting for the switch.</li>
 * </ul>
 * The cgroup work runs on workers; the maps are safe from any thread.
 */
public final class StoppedContainers {
  private static final Logger LOG = LoggerFactory.getLogger(StoppedContainers.class);
  public static final String DIR = "stopped-containers";

  private final Vertx vertx;
  private final ContainerCgroups cgroups;
  private final Path dir;
  private final Map<String, StoppedContainer> containers = new ConcurrentHashMap<>();
  private final Map<String, Long> expiries = new ConcurrentHashMap<>();

  public StoppedContainers(Vertx vertx, ContainerCgroups cgroups, Path workDir) {
    this.vertx = vertx;
    this.cgroups = cgroups;
    this.dir = workDir.resolve(DIR);
  }

  /**
   * Claims the container for {@code migrationId} before its checkpoint, recorded first (a crash after it leaves
   * a record the next run settles). CONFLICT when another migration holds it, NOT_FOUND without its cgroup.
   */
  public Future<StoppedContainer> claim(String containerId, String migrationId) {
    return vertx.executeBlocking(() -> {
      Path cgroup = cgroups.find(containerId).orElseThrow(() -> new AgentException(ApiError.NOT_FOUND,
          "no cgroup of container " + containerId + " under " + cgroups.root()));
      StoppedContainer claimed = new StoppedContainer(containerId, cgroup, migrationId, Instant.now(), null,
          false);
      StoppedContainer before = containers.putIfAbsent(containerId, claimed);
      if (before != null) {
        throw new AgentException(ApiError.CONFLICT, "container " + containerId + " is held by migration "
            + before.migrationId());
      }
      write(claimed);
      return claimed;
    }, false);
  }

  /** Fails, naming them, when processes of the container run (the runtime did not leave it stopped). */
  public Future<Void> verifyStopped(String containerId) {
    StoppedContainer held = containers.get(containerId);
    if (held == null) {
      return Future.failedFuture(new AgentException(ApiError.NOT_FOUND, "container " + containerId + " not held"));
    }
    return vertx.executeBlocking(() -> {
      List<Long> running = cgroups.running(held.cgroup());
      if (!running.isEmpty()) {
        throw new IllegalStateException("the runtime left container " + containerId + " running after its "
            + "checkpoint (processes " + running + "): interface kubelet-consistent needs the node's CRIU"
            + " configuration for runc (/etc/criu/runc.conf) to stop a container after its dump (README,"
            + " \"Consistent pod migration\"); interface kubelet-copy moves it as a copy");
      }
      return null;
    }, false);
  }

  /** The destination holds the checkpoint: the container waits for the coordinator's word or the expiry. */
  public Future<Void> awaitSwitch(String containerId, Duration hold) {
    StoppedContainer held = containers.get(containerId);
    if (held == null) {
      return Future.failedFuture(new AgentException(ApiError.NOT_FOUND, "container " + containerId + " not held"));
    }
    StoppedContainer waiting = held.holdUntil(Instant.now().plus(hold));
    containers.put(containerId, waiting);
    arm(waiting);
    return vertx.executeBlocking(() -> {
      write(waiting);
      return null;
    }, false);
  }

  /**
   * The destination runs the pod: from now on the container never runs again. Recorded before the answer, so a
   * restart or the hold's expiry cannot resume it; idempotent. NOT_FOUND when not held.
   */
  public Future<JsonObject> commit(String containerId) {
    StoppedContainer held;
    StoppedContainer committed;
    do {
      held = containers.get(containerId);
      if (held == null) {
        return Future.failedFuture(new AgentException(ApiError.NOT_FOUND, "container " + containerId
            + " is not held by this agent"));
      }
      committed = held.asCommitted();
    } while (!containers.replace(containerId, held, committed));
    Long expiry = expiries.remove(containerId);
    if (expiry != null) {
      vertx.cancelTimer(expiry);
    }
    StoppedContainer recorded = committed;
    return vertx.executeBlocking(() -> {
      write(recorded);
      LOG.info("migration {}: container {} committed: it stays stopped until its pod's deletion ends it",
          recorded.migrationId(), containerId);
      return recorded.toJson();
    }, false);
  }

  /**
   * Lets the container run again where it stopped: the migration failed, the switch did not happen. CONFLICT
   * once committed (the destination runs the pod: resuming would make two).
   */
  public Future<JsonObject> resume(String containerId, String why) {
    StoppedContainer held = containers.get(containerId);
    if (held != null && held.committed()) {
      return Future.failedFuture(new AgentException(ApiError.CONFLICT, "container " + containerId + " of migration "
          + held.migrationId() + " is committed (the destination runs it): it is never resumed"));
    }
    return settle(containerId, "CONT", why);
  }

  /** The destination runs the pod: the stopped source dies without running again (SIGKILL). */
  public Future<JsonObject> kill(String containerId) {
    return settle(containerId, "KILL", "the destination runs it");
  }

  /**
   * Interface kubelet-copy on a node whose runtime leaves checkpointed containers stopped: the copied container
   * runs on at once. Nothing to do for a container a consistent migration holds, or one not found.
   */
  public Future<Integer> continueCopied(String containerId) {
    if (containers.containsKey(containerId)) {
      return Future.succeededFuture(0);
    }
    return vertx.executeBlocking(() -> {
      Path cgroup = cgroups.find(containerId).orElse(null);
      return cgroup == null ? 0 : cgroups.signalAll(cgroup, "CONT");
    }, false);
  }

  /** What GET /v1/stopped-containers shows. */
  public JsonArray list() {
    JsonArray list = new JsonArray();
    containers.values().forEach(held -> list.add(held.toJson()));
    return list;
  }

  /**
   * After a restart: a container whose migration ran in the previous run resumes (that migration died with it);
   * one waiting for the switch keeps waiting until its hold expires. Completes with the number resumed.
   */
  public Future<Integer> recover() {
    return vertx.executeBlocking(this::readRecords, false).compose(found -> {
      List<Future<JsonObject>> resumed = new ArrayList<>();
      for (StoppedContainer held : found) {
        containers.put(held.containerId(), held);
        if (held.committed()) {
          LOG.info("container {} of migration {} is committed: it stays stopped until its pod's deletion ends it",
              held.containerId(), held.migrationId());
        } else if (held.holdUntil() != null && held.holdUntil().isAfter(Instant.now())) {
          LOG.info("container {} stays stopped for the switch of migration {} until {}", held.containerId(),
              held.migrationId(), held.holdUntil());
          arm(held);
        } else {
          resumed.add(resume(held.containerId(), held.holdUntil() == null ? "its migration " + held.migrationId()
              + " ended with the agent's previous run" : "its hold expired while the agent was down"));
        }
      }
      return Future.join(resumed).otherwiseEmpty().map(ignored -> resumed.size());
    });
  }

  private List<StoppedContainer> readRecords() throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(file -> file.getFileName().toString().endsWith(".json")).map(file -> {
        try {
          StoppedContainer held = StoppedContainer.fromJson(new JsonObject(Files.readString(file)));
          if (held.committed() && cgroups.pids(held.cgroup()).isEmpty()) {
            // its pod's deletion ended it while nobody settled it here: nothing left to hold
            Files.deleteIfExists(file);
            return null;
          }
          return held;
        } catch (IOException | RuntimeException e) {
          LOG.warn("unreadable stopped-container record {}: {}", file, e.getMessage());
          return null;
        }
      }).filter(Objects::nonNull).toList();
    }
  }

  private void arm(StoppedContainer held) {
    long delay = Math.max(1, Duration.between(Instant.now(), held.holdUntil()).toMillis());
    Long previous = expiries.put(held.containerId(), vertx.setTimer(delay, ignored -> {
      expiries.remove(held.containerId());
      StoppedContainer now = containers.get(held.containerId());
      if (now == null || now.committed()) {
        return;
      }
      LOG.warn("container {}: nobody settled the switch of migration {} by {}: resuming it", held.containerId(),
          held.migrationId(), held.holdUntil());
      resume(held.containerId(), "its hold expired");
    }));
    if (previous != null) {
      vertx.cancelTimer(previous);
    }
  }

  private Future<JsonObject> settle(String containerId, String signal, String why) {
    StoppedContainer held = containers.get(containerId);
    if (held == null) {
      return Future.failedFuture(new AgentException(ApiError.NOT_FOUND, "container " + containerId
          + " is not held by this agent"));
    }
    if (("CONT".equals(signal) && held.committed()) || !containers.remove(containerId, held)) {
      // committed meanwhile (a resume must not win over a commit), or settled by another call
      return Future.failedFuture(new AgentException(ApiError.CONFLICT, "container " + containerId
          + " changed while being settled (committed or settled meanwhile)"));
    }
    Long expiry = expiries.remove(containerId);
    if (expiry != null) {
      vertx.cancelTimer(expiry);
    }
    return vertx.executeBlocking(() -> {
      int signalled = cgroups.signalAll(held.cgroup(), signal);
      Files.deleteIfExists(file(containerId));
      LOG.info("migration {}: container {} {} ({} processes: {})", held.migrationId(), containerId,
          "KILL".equals(signal) ? "killed" : "resumed", signalled, why);
      return held.toJson().put("outcome", "KILL".equals(signal) ? "killed" : "resumed")
          .put("processes", signalled).put("stoppedMs", Duration.between(held.since(), Instant.now()).toMillis());
    }, false).onFailure(failure -> {
      // the record stays: a later call or the next run settles it
      containers.putIfAbsent(containerId, held);
      LOG.warn("migration {}: could not signal container {}: {}", held.migrationId(), containerId,
          failure.getMessage());
    });
  }

  private void write(StoppedContainer held) throws IOException {
    Files.createDirectories(dir);
    Path temporary = dir.resolve(held.containerId() + ".json.tmp");
    Files.writeString(temporary, held.toJson().encode());
    Files.move(temporary, file(held.containerId()), StandardCopyOption.ATOMIC_MOVE,
        StandardCopyOption.REPLACE_EXISTING);
  }

  private Path file(String containerId) {
    return dir.resolve(containerId + ".json");
  }
}
