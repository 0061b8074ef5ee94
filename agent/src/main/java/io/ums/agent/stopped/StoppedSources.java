package io.ums.agent.stopped;

import io.ums.agent.container.ContainerWorkloads;
import io.ums.agent.criu.ClientConnections;
import io.ums.agent.criu.NetworkLockRules;
import io.ums.agent.criu.ProcessTree;
import io.ums.agent.error.AgentException;
import io.ums.agent.error.ApiError;
import io.ums.agent.files.FileTrees;
import io.ums.agent.workload.ProcessIdentity;
import io.ums.agent.workload.Workloads;
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
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The process trees this agent stops to move them (interface ff), recorded in the work dir
 * ({@code stopped-sources/<migration id>.json}) from before the freeze until their migration settled them, so
 * that an agent killed mid-migration leaves nothing stopped forever and never makes two copies:
 * <ul>
 *   <li>stage CHECKPOINTING (no restore request sent yet: the destination cannot run it): a restarted agent
 *       resumes it at once (CRIU normally did, when its gate or page server lost the agent);</li>
 *   <li>stage AWAITING_VERDICT (the restore request may have reached the destination): only the destination's
 *       verdict settles it, told by the coordinator: {@code POST /v1/stopped-sources/{id}/kill} (the
 *       destination restored it) or {@code .../resume} (it did not). Until then it stays stopped, listed by
 *       {@code GET /v1/stopped-sources}; a dump still waiting at its gate waits for the same word
 *       ({@link #verdictFile}), so CRIU itself commits or rolls back (connections it holds resume).</li>
 * </ul>
 * Blocking methods run on workers. Beside {@link StoppedContainers} (a consistent pod migration's containers,
 * settled the same way by the coordinator's word): the two hold every source workload a migration stops.
 */
public final class StoppedSources {
  private static final Logger LOG = LoggerFactory.getLogger(StoppedSources.class);
  public static final String DIR = "stopped-sources";
  static final String CHECKPOINTING = "CHECKPOINTING";
  static final String AWAITING_VERDICT = "AWAITING_VERDICT";
  private static final String CONTAINER = "container";
  private static final long CRIU_LET_GO_MILLIS = 60_000;

  private final Vertx vertx;
  private final Workloads workloads;
  private Optional<ContainerWorkloads> containers = Optional.empty();
  private final List<String> criuWrapper;
  private final Path dir;
  private final Map<String, JsonObject> records = new ConcurrentHashMap<>();
  private final Set<String> settling = ConcurrentHashMap.newKeySet();

  public StoppedSources(Vertx vertx, Workloads workloads, List<String> criuWrapper, Path workDir) {
    this.vertx = vertx;
    this.workloads = workloads;
    this.criuWrapper = List.copyOf(criuWrapper);
    this.dir = workDir.resolve(DIR);
  }

  /** The node's runc containers, once container support is up (a frozen container is thawed through it). */
  public StoppedSources withContainers(Optional<ContainerWorkloads> nodeContainers) {
    this.containers = nodeContainers;
    return this;
  }

  /** Records a runc or podman container before its checkpoint (stage CHECKPOINTING); no pid, no lock rules. */
  public void recordContainer(String migrationId, String containerId, Path sessionDir) throws IOException {
    JsonObject record = new JsonObject().put("migrationId", migrationId).put("workloadId", containerId)
        .put("kind", CONTAINER).put("sessionDir", sessionDir.toString()).put("stage", CHECKPOINTING)
        .put("since", Instant.now().toString());
    records.put(migrationId, record);
    write(record);
  }

  /** Where a held dump's gate script looks for its verdict once the agent that started it is gone. */
  public Path verdictFile(String migrationId) {
    return dir.resolve(migrationId + ".verdict");
  }

  /** Records a source before its freeze (stage CHECKPOINTING). Blocking. */
  public void record(String migrationId, String workloadId, long pid, Set<String> lockRulesBefore,
      Set<Long> stoppedBefore, Path sessionDir) throws IOException {
    JsonObject record = new JsonObject().put("migrationId", migrationId).put("workloadId", workloadId)
        .put("pid", pid).put("startTime", ProcessIdentity.of(pid).map(ProcessIdentity::startTime).orElse(-1L))
        .put("lockRulesBefore", new JsonArray(List.copyOf(lockRulesBefore)))
        .put("stoppedBefore", new JsonArray(List.copyOf(stoppedBefore)))
        .put("sessionDir", sessionDir.toString()).put("stage", CHECKPOINTING).put("since", Instant.now().toString());
    records.put(migrationId, record);
    write(record);
  }

  /** The restore request is about to go: from now on only the destination's verdict settles it. Blocking. */
  public void awaitVerdict(String migrationId) throws IOException {
    JsonObject record = records.get(migrationId);
    if (record != null) {
      record.put("stage", AWAITING_VERDICT);
      write(record);
    }
  }

  /** The running agent settled its migration itself. Blocking. */
  public void forget(String migrationId) {
    records.remove(migrationId);
    try {
      Files.deleteIfExists(file(migrationId));
      Files.deleteIfExists(verdictFile(migrationId));
    } catch (IOException e) {
      LOG.warn("migration {}: cannot delete its stopped-source record: {}", migrationId, e.getMessage());
    }
  }

  /** The session directories of held dumps: a restarted agent must not delete them under CRIU. */
  public Set<Path> heldSessionDirs() {
    Set<Path> held = new LinkedHashSet<>();
    records.values().forEach(record -> held.add(Path.of(record.getString("sessionDir"))));
    return held;
  }

  /** Workload id → migration id of the sources awaiting the destination's verdict (no I/O). */
  public Map<String, String> awaitingVerdict() {
    Map<String, String> held = new java.util.HashMap<>();
    records.values().stream().filter(record -> AWAITING_VERDICT.equals(record.getString("stage")))
        .forEach(record -> held.put(record.getString("workloadId"), record.getString("migrationId")));
    return held;
  }

  public JsonArray list() {
    JsonArray list = new JsonArray();
    records.values().forEach(record -> list.add(CONTAINER.equals(record.getString("kind")) ? record.copy()
        : record.copy().put("state", ProcessTree.state(record.getLong("pid")).map(String::valueOf).orElse("gone"))));
    return list;
  }

  /**
   * After a restart: loads what the previous run left; a source whose restore request never left resumes at
   * once, one awaiting the verdict stays as it is. Blocking.
   */
  public void recover() throws IOException {
    for (JsonObject record : readRecords()) {
      String id = record.getString("migrationId");
      records.put(id, record.put("recovered", true));
      if (CHECKPOINTING.equals(record.getString("stage")) && CONTAINER.equals(record.getString("kind"))) {
        settleContainer(id, false, "its migration ended with the agent's previous run before the destination"
            + " could restore it");
      } else if (CHECKPOINTING.equals(record.getString("stage"))) {
        JsonObject outcome = settle(id, false, "its migration ended with the agent's previous run before the"
            + " destination could restore it");
        LOG.info("migration {}: source {} {}", id, record.getString("workloadId"), outcome.getString("outcome"));
      } else {
        LOG.warn("migration {}: source workload {} (pid {}) stays stopped until the destination's verdict"
            + " (POST /v1/stopped-sources/{}/kill|resume): the previous run of this agent died while the"
            + " destination may have restored it", id, record.getString("workloadId"), record.getLong("pid"), id);
      }
    }
  }

  /** The coordinator's word: {@code kill} when the destination runs the workload, else resume it. */
  public Future<JsonObject> settleAsync(String migrationId, boolean kill) {
    JsonObject record = records.get(migrationId);
    if (record == null) {
      return Future.failedFuture(new AgentException(ApiError.NOT_FOUND, "no stopped source of migration "
          + migrationId + " on this agent"));
    }
    if (!record.getBoolean("recovered", false)) {
      // a coordinator that lost this agent for a while must not settle what its running migration still owns
      return Future.failedFuture(new AgentException(ApiError.CONFLICT, "migration " + migrationId + " is in"
          + " flight on this agent: it ends it itself (GET /v1/migrations/" + migrationId + ")"));
    }
    if (!settling.add(migrationId)) {
      return Future.failedFuture(new AgentException(ApiError.CONFLICT, "the stopped source of migration "
          + migrationId + " is being settled"));
    }
    String why = kill ? "the destination restored it" : "the destination did not restore it";
    Future<JsonObject> settled = CONTAINER.equals(record.getString("kind")) ? settleContainer(migrationId, kill, why)
        : vertx.executeBlocking(() -> settle(migrationId, kill, why), false).compose(outcome -> kill
            ? workloads.remove(outcome.getString("workloadId")).otherwiseEmpty().map(outcome)
            : Future.succeededFuture(outcome));
    return settled.onComplete(ignored -> settling.remove(migrationId));
  }

  /**
   * A container left stopped by its checkpoint (runc: frozen; podman: checkpointed): removed (the destination
   * runs it) or resumed.
   */
  private Future<JsonObject> settleContainer(String migrationId, boolean kill, String why) {
    JsonObject record = records.get(migrationId);
    String id = record.getString("workloadId");
    Future<Void> done = containers.isEmpty() ? Future.failedFuture("no container support on this agent")
        : kill ? workloads.remove(id) : containers.get().resumeHeld(id).compose(running -> running
        ? Future.<Void>succeededFuture() : Future.failedFuture("it does not run after the thaw"));
    return done.transform(result -> vertx.executeBlocking(() -> {
      if (result.failed()) {
        LOG.warn("migration {}: could not {} container {}: {}", migrationId, kill ? "remove" : "thaw", id,
            result.cause().getMessage());
        throw new AgentException(ApiError.CONFLICT, "could not " + (kill ? "remove" : "thaw") + " container " + id
            + ": " + result.cause().getMessage());
      }
      FileTrees.delete(Path.of(record.getString("sessionDir")));
      forget(migrationId);
      String outcome = kill ? "killed" : "resumed";
      LOG.info("migration {}: source container {} {} ({})", migrationId, id, outcome, why);
      return new JsonObject().put("migrationId", migrationId).put("workloadId", id).put("outcome", outcome)
          .put("why", why);
    }, false));
  }

  /** Tells a waiting dump, waits until CRIU let go of the tree, then finishes what CRIU did not. Blocking. */
  private JsonObject settle(String migrationId, boolean kill, String why) throws IOException {
    JsonObject record = records.get(migrationId);
    long pid = record.getLong("pid");
    Files.createDirectories(dir);
    Files.writeString(verdictFile(migrationId), kill ? "commit\n" : "rollback\n");
    long deadline = System.nanoTime() + Duration.ofMillis(CRIU_LET_GO_MILLIS).toNanos();
    while (ours(record) && tracerOf(pid) != 0 && System.nanoTime() < deadline) {
      sleep();
    }
    NetworkLockRules locks = new NetworkLockRules(criuWrapper);
    Set<String> before = new LinkedHashSet<>();
    record.getJsonArray("lockRulesBefore", new JsonArray()).forEach(rule -> before.add((String) rule));
    String outcome;
    if (kill) {
      if (ours(record)) {
        int reset = resetClients(pid, locks, before);
        ProcessTree.signalAll(pid, "KILL");
        LOG.info("migration {}: reset {} connection(s) of the held source before killing it", migrationId, reset);
      }
      outcome = "killed";
    } else if (ours(record)) {
      Set<Long> stoppedBefore = new HashSet<>();
      record.getJsonArray("stoppedBefore", new JsonArray()).forEach(member -> stoppedBefore.add(
          ((Number) member).longValue()));
      if (!ProcessTree.running(pid, stoppedBefore)) {
        locks.removeAddedSince(before);
      }
      // even when it reads as running: CRIU's leave-stopped queues a SIGSTOP that acts only when it next runs
      outcome = ProcessTree.resume(pid, stoppedBefore) ? "resumed" : "not resumed (state " + ProcessTree.state(pid)
          .map(String::valueOf).orElse("gone") + ")";
    } else {
      outcome = "gone";
    }
    int removed = locks.removeAddedSince(before);
    FileTrees.delete(Path.of(record.getString("sessionDir")));
    forget(migrationId);
    LOG.info("migration {}: source workload {} {} ({}; {} lock rule(s) removed)", migrationId,
        record.getString("workloadId"), outcome, why, removed);
    return new JsonObject().put("migrationId", migrationId).put("workloadId", record.getString("workloadId"))
        .put("outcome", outcome).put("why", why);
  }

  /**
   * The held tree's connections, as the running agent resets them once the destination runs the workload (see
   * {@link ClientConnections}): a repair-mode socket dies silently with its process, and a client waiting for
   * an answer would hang. CRIU's lock rules would drop the resets, so they go first. Blocking.
   */
  private int resetClients(long pid, NetworkLockRules locks, Set<String> before) {
    List<ClientConnections.Connection> connections = ClientConnections.of(ProcessTree.members(pid));
    if (connections.isEmpty()) {
      return 0;
    }
    locks.removeAddedSince(before);
    return ClientConnections.reset(criuWrapper, connections);
  }

  private static boolean ours(JsonObject record) {
    long pid = record.getLong("pid");
    long startTime = record.getLong("startTime", -1L);
    return ProcessIdentity.of(pid).map(identity -> startTime < 0 || identity.startTime() == startTime)
        .orElse(false) && ProcessTree.alive(pid);
  }

  private static long tracerOf(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
        if (line.startsWith("TracerPid:")) {
          return Long.parseLong(line.substring("TracerPid:".length()).trim());
        }
      }
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
    return 0;
  }

  private static void sleep() {
    try {
      Thread.sleep(50);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private List<JsonObject> readRecords() throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(file -> file.getFileName().toString().endsWith(".json")).map(file -> {
        try {
          return new JsonObject(Files.readString(file));
        } catch (IOException | RuntimeException e) {
          LOG.warn("unreadable stopped-source record {}: {}", file, e.getMessage());
          return null;
        }
      }).filter(Objects::nonNull).toList();
    }
  }

  private void write(JsonObject record) throws IOException {
    Files.createDirectories(dir);
    String id = record.getString("migrationId");
    Path temporary = dir.resolve(id + ".json.tmp");
    Files.writeString(temporary, record.encode());
    Files.move(temporary, file(id), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private Path file(String migrationId) {
    return dir.resolve(migrationId + ".json");
  }
}
