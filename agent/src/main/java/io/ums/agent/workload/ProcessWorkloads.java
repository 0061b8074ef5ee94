package io.ums.agent.workload;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Workloads} of local mode: process trees launched by {@link ProcessLauncher} or restored by a
 * migration, persisted by {@link WorkloadStore} so that a restarted agent on the same work dir finds them
 * again. Process and file work runs on workers; the maps are concurrent because workers and the event loop
 * both read them. A sweep every second notices workloads that exited.
 */
public final class ProcessWorkloads implements Workloads {
  private static final Logger LOG = LoggerFactory.getLogger(ProcessWorkloads.class);
  private static final long SWEEP_INTERVAL_MILLIS = 1_000;
  private static final long EXIT_WAIT_MILLIS = 5_000;
  /** Older than any launch or restore in progress: a directory this old that nothing uses was left by a crash. */
  private static final Duration STALE_WORKING_DIRECTORY_AGE = Duration.ofMinutes(10);

  private final Vertx vertx;
  private final WorkloadStore store;
  private final Map<String, WorkloadRecord> records = new ConcurrentHashMap<>();
  private final Map<String, String> migrationClaims = new ConcurrentHashMap<>();
  /** Relays opened for restores, by the workload id their directory reserves, until adopted. */
  private final Map<String, OutputRelay> openRelays = new ConcurrentHashMap<>();
  private long sweepTimer = -1;

  public ProcessWorkloads(Vertx vertx, Path workDir) {
    this.vertx = vertx;
    this.store = new WorkloadStore(workDir);
  }

  /** Loads the records a previous agent left in the work dir and starts the liveness sweep. */
  public Future<Void> start() {
    return vertx.executeBlocking(() -> {
      WorkingDirectories.sweep(STALE_WORKING_DIRECTORY_AGE);
      for (WorkloadRecord record : store.loadAll()) {
        WorkloadStatus status = observedStatus(record);
        records.put(record.id(), record.withStatus(status));
        LOG.info("workload {} ({}) found in work dir: pid {} {}", record.id(), record.workload().spec().name(),
            record.process().pid(), status);
      }
      return null;
    }).onSuccess(ignored -> sweepTimer = vertx.setPeriodic(SWEEP_INTERVAL_MILLIS, id -> sweep()))
        .mapEmpty();
  }

  public void stop() {
    if (sweepTimer >= 0) {
      vertx.cancelTimer(sweepTimer);
    }
  }

  @Override
  public Optional<Workload> find(String id) {
    return Optional.ofNullable(records.get(id)).map(this::current);
  }

  @Override
  public List<Workload> list() {
    return records.values().stream().map(this::current).sorted(Comparator.comparing(Workload::createdAt)
        .thenComparing(Workload::id)).toList();
  }

  /** How many workloads are in each status (for metrics). */
  public Map<WorkloadStatus, Long> countByStatus() {
    Map<WorkloadStatus, Long> counts = new java.util.EnumMap<>(WorkloadStatus.class);
    for (WorkloadStatus status : WorkloadStatus.values()) {
      counts.put(status, 0L);
    }
    list().forEach(workload -> counts.merge(workload.status(), 1L, Long::sum));
    return counts;
  }

  @Override
  public Future<Workload> launch(WorkloadSpec spec) {
    if (!WorkloadSpec.KIND_PROCESS.equals(spec.kind())) {
      return Future.failedFuture(new InvalidWorkloadSpecException("kind",
          "\"" + spec.kind() + "\" workloads are not supported by this agent (supported: process)"));
    }
    if (spec.command().isEmpty()) {
      return Future.failedFuture(new InvalidWorkloadSpecException("command", "must not be empty"));
    }
    String id = newId();
    return vertx.executeBlocking(() -> {
      Path logFile = store.logFile(id);
      ProcessLauncher.Launched launched;
      try {
        launched = ProcessLauncher.launch(spec, logFile);
      } catch (IOException | RuntimeException e) {
        store.delete(id);
        throw e;
      }
      // pid 0: the workload ended before its PID could be read; it is listed EXITED with its output.
      ProcessIdentity init = launched.init().orElse(new ProcessIdentity(0, 0));
      Workload workload = new Workload(id, spec, init.pid(), launched.init().isPresent() ? WorkloadStatus.RUNNING
          : WorkloadStatus.EXITED, Instant.now(), null);
      WorkloadRecord record = new WorkloadRecord(workload, init, Optional.of(launched.relay().identity()),
          logFile);
      store.save(record);
      records.put(id, record);
      // unshare is the agent's child: reaping it promptly tells us the namespace init is gone.
      launched.unshare().onExit().thenRun(() -> vertx.runOnContext(ignored -> sweep()));
      LOG.info("workload {} ({}) launched: pid {} {} {}", id, spec.name(), workload.pid(), workload.status(),
          spec.command());
      return workload;
    }, false);
  }

  @Override
  public Future<Workload> beginMigration(String id, String migrationId) {
    WorkloadRecord record = records.get(id);
    if (record == null) {
      return Future.failedFuture(new NoSuchElementException("no workload " + id));
    }
    String existing = migrationClaims.putIfAbsent(id, migrationId);
    if (existing != null) {
      return Future.failedFuture(new WorkloadBusyException(id, existing));
    }
    // STOPPED counts as migratable: CRIU dumps a stopped tree as well, and right after a rollback the
    // sweep may not yet have seen the source resumed.
    WorkloadStatus status = record.workload().status();
    if (status == WorkloadStatus.EXITED) {
      migrationClaims.remove(id, migrationId);
      return Future.failedFuture(new WorkloadStateException(id, status, "migrate it"));
    }
    LOG.info("workload {} MIGRATING (migration {})", id, migrationId);
    return Future.succeededFuture(current(record));
  }

  @Override
  public void endMigration(String id) {
    String migrationId = migrationClaims.remove(id);
    if (migrationId != null) {
      LOG.info("workload {} back to RUNNING here (migration {} ended)", id, migrationId);
      sweep();
    }
  }

  @Override
  public Future<OutputRelay> openRelay(String workloadName) {
    String id = newId();
    return vertx.executeBlocking(() -> {
      OutputRelay relay = OutputRelay.start(store.logFile(id));
      openRelays.put(id, relay);
      relay.whenClosed(() -> {
        if (openRelays.remove(id) != null) {
          store.delete(id);
        }
      });
      LOG.info("output relay {} opened for a restore of {}: pid {}", id, workloadName, relay.identity().pid());
      return relay;
    }, false);
  }

  @Override
  public Future<Workload> adoptRestored(WorkloadSpec spec, long pid, String migrationId, LogSink log) {
    return vertx.executeBlocking(() -> {
      ProcessIdentity process = ProcessIdentity.of(pid).orElseThrow(() -> new IllegalStateException(
          "restored workload pid " + pid + " is not running"));
      Optional<ProcessIdentity> relay = log.relayPid() > 0 ? ProcessIdentity.of(log.relayPid())
          : Optional.empty();
      String id = idOfRelayDirectory(log.file()).orElseGet(ProcessWorkloads::newId);
      Optional.ofNullable(openRelays.remove(id)).ifPresent(adopted -> {
        adopted.whenClosed(() -> { });
        adopted.releaseAgentWriter();
      });
      Workload workload = new Workload(id, spec, pid, WorkloadStatus.RUNNING, Instant.now(), migrationId);
      WorkloadRecord record = new WorkloadRecord(workload, process, relay, log.file());
      store.save(record);
      records.put(id, record);
      LOG.info("workload {} ({}) restored by migration {}: pid {}", id, spec.name(), migrationId, pid);
      return workload;
    }, false);
  }

  @Override
  public Future<Void> remove(String id) {
    WorkloadRecord record = records.get(id);
    if (record == null) {
      return Future.failedFuture(new NoSuchElementException("no workload " + id));
    }
    String migrationId = migrationClaims.get(id);
    if (migrationId != null) {
      return Future.failedFuture(new WorkloadBusyException(id, migrationId));
    }
    return vertx.executeBlocking(() -> {
      Optional<String> cwd = WorkingDirectories.of(record.process().pid());
      // SIGKILL to the namespace init ends every process of its PID namespace; the relay then reads
      // end-of-file and exits by itself, after draining the last output.
      record.process().kill();
      awaitExit(record.process());
      WorkingDirectories.release(cwd);
      record.relay().ifPresent(relay -> {
        if (!awaitExit(relay)) {
          relay.kill();
          awaitExit(relay);
        }
      });
      records.remove(id);
      store.delete(id);
      LOG.info("workload {} ({}) removed", id, record.workload().spec().name());
      return null;
    }, false);
  }

  @Override
  public Future<String> logs(String id) {
    WorkloadRecord record = records.get(id);
    if (record == null) {
      return Future.failedFuture(new NoSuchElementException("no workload " + id));
    }
    return vertx.executeBlocking(() -> readTail(record.logFile()), false);
  }

  private Workload current(WorkloadRecord record) {
    return migrationClaims.containsKey(record.id()) ? record.workload().withStatus(WorkloadStatus.MIGRATING)
        : record.workload();
  }

  private void sweep() {
    vertx.executeBlocking(() -> {
      for (WorkloadRecord record : records.values()) {
        WorkloadStatus before = record.workload().status();
        if (before == WorkloadStatus.EXITED) {
          continue;
        }
        WorkloadStatus now = observedStatus(record);
        if (now != before) {
          records.computeIfPresent(record.id(), (id, existing) -> existing.withStatus(now));
          LOG.info("workload {} ({}) {} -> {}", record.id(), record.workload().spec().name(), before, now);
        }
      }
      return null;
    }, false).onFailure(error -> LOG.error("workload liveness sweep failed", error));
  }

  private static WorkloadStatus observedStatus(WorkloadRecord record) {
    if (!record.process().alive()) {
      return WorkloadStatus.EXITED;
    }
    return record.process().stopped() ? WorkloadStatus.STOPPED : WorkloadStatus.RUNNING;
  }

  private Optional<String> idOfRelayDirectory(Path logFile) {
    Path dir = logFile.toAbsolutePath().getParent();
    String id = dir.getFileName().toString();
    boolean ours = dir.equals(store.directory(id).toAbsolutePath()) && !store.hasRecord(id)
        && !records.containsKey(id);
    return ours ? Optional.of(id) : Optional.empty();
  }

  private static boolean awaitExit(ProcessIdentity process) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(EXIT_WAIT_MILLIS);
    while (process.alive()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }

  private static String readTail(Path logFile) throws IOException {
    if (!Files.exists(logFile)) {
      return "";
    }
    try (RandomAccessFile file = new RandomAccessFile(logFile.toFile(), "r")) {
      long length = file.length();
      long start = Math.max(0, length - MAX_LOG_CHARS);
      byte[] bytes = new byte[(int) (length - start)];
      file.seek(start);
      file.readFully(bytes);
      return new String(bytes, StandardCharsets.UTF_8);
    }
  }

  private static String newId() {
    return "w-" + UUID.randomUUID().toString().substring(0, 8);
  }
}
