package io.ums.coordinator.migration;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Settles the reservations their source coordinator abandoned (it died, or lost us): neither
 * committed nor released, they would keep a destination pod and sessions forever.
 *
 * <p>Abandoned means that nobody worked on it for a whole phase timeout: its destination sessions'
 * phases did not change, none was in flight, and the source coordinator did not ask about it. The
 * time since the reservation says nothing: a loaded source coordinator may take longer than a
 * phase timeout between reserving and committing while the agents move the workload. So the
 * sessions are looked at several times per phase timeout (progress is seen soon after it
 * happens), and a reservation restored here that this check committed still answers the source
 * coordinator's late commit.
 */
final class AbandonedReservations {
  enum Verdict { COMMIT, WAIT, RELEASE }

  private static final Logger LOG = LoggerFactory.getLogger(AbandonedReservations.class);
  private static final Set<String> IN_FLIGHT = Set.of("CHECKPOINTING", "TRANSFERRING", "RESTORING");
  private static final Set<String> ENDED_BADLY = Set.of("ROLLED_BACK", "FAILED");
  private static final int LOOKS_PER_PHASE_TIMEOUT = 4;
  /** Committed here for a source coordinator that had not yet: remembered for its commit, the oldest go first. */
  private static final int COMMITTED_HERE_KEPT = 256;

  private final Vertx vertx;
  private final ClusterDescriber describer;
  private final Duration phaseTimeout;
  private final Function<String, Reservation> open;
  private final BiFunction<String, JsonObject, Future<JsonObject>> commit;
  private final Function<String, Future<Void>> release;
  private final Map<String, Reservation> committedHere = new LinkedHashMap<>() {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Reservation> eldest) {
      return size() > COMMITTED_HERE_KEPT;
    }
  };

  AbandonedReservations(Vertx vertx, ClusterDescriber describer, Duration phaseTimeout,
      Function<String, Reservation> open, BiFunction<String, JsonObject, Future<JsonObject>> commit,
      Function<String, Future<Void>> release) {
    this.vertx = vertx;
    this.describer = describer;
    this.phaseTimeout = phaseTimeout;
    this.open = open;
    this.commit = commit;
    this.release = release;
  }

  /** A reservation this check committed because its sessions were restored and nobody came to commit. */
  Optional<Reservation> committedHere(String id) {
    return Optional.ofNullable(committedHere.remove(id));
  }

  void watch(String id) {
    long every = Math.max(1, phaseTimeout.toMillis() / LOOKS_PER_PHASE_TIMEOUT);
    vertx.setTimer(every, timer -> {
      Reservation reservation = open.apply(id);
      if (reservation == null) {
        return;
      }
      List<Future<String>> phases = reservation.sessions.stream()
          .map(session -> describer.agent(reservation.agent).migration(session.sessionId())
              .map(status -> status.getString("phase", ""))
              .otherwise(gone -> "GONE"))
          .toList();
      Future.all(phases).onSuccess(all -> {
        if (open.apply(id) != reservation) {
          return;
        }
        List<String> seen = phases.stream().map(Future::result).toList();
        switch (verdict(reservation, seen, System.nanoTime(), phaseTimeout)) {
          case COMMIT -> {
            LOG.warn("migration {}: nobody committed the restored destination for {} ms; keeping it",
                reservation.migrationId(), phaseTimeout.toMillis());
            committedHere.put(id, reservation);
            commit.apply(id, new JsonObject());
          }
          case WAIT -> watch(id);
          case RELEASE -> {
            LOG.warn("migration {}: destination sessions are {} and nobody settled them; releasing",
                reservation.migrationId(), seen);
            release.apply(id);
          }
        }
      });
    });
  }

  /**
   * Any session rolled back or failed: release (the agents ended the migration). A commit running,
   * a session in flight or phases that changed since the last look: progress, wait. Otherwise
   * (waiting for a source, restored, or the agent not answering) only a whole phase timeout
   * without progress settles it: a restored process or container (DONE) is committed, anything
   * else released.
   *
   * <p>Checkpoint sessions: until the commit the source containers still run, so releasing is
   * always safe, even once every image is built.
   */
  static Verdict verdict(Reservation reservation, List<String> phases, long nowNanos, Duration phaseTimeout) {
    if (reservation.committing) {
      reservation.progressed(phases, nowNanos);
      return Verdict.WAIT;
    }
    if (phases.stream().anyMatch(ENDED_BADLY::contains)) {
      return Verdict.RELEASE;
    }
    if (phases.stream().anyMatch(IN_FLIGHT::contains) || !phases.equals(reservation.lastPhases)) {
      reservation.progressed(phases, nowNanos);
      return Verdict.WAIT;
    }
    if (nowNanos - reservation.lastProgressNanos < phaseTimeout.toNanos()) {
      return Verdict.WAIT;
    }
    return !reservation.request.checkpoint() && "DONE".equals(phases.get(0)) ? Verdict.COMMIT : Verdict.RELEASE;
  }
}
