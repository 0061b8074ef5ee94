package io.ums.agent.migration;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts what the agent's migrations did, for GET /metrics: how many ended and how (by role and final
 * phase), the bytes they moved, how long they took and the downtime the source measured. Wraps the real
 * {@link Migrations} and watches each one it starts until it ends.
 */
public final class MeteredMigrations implements Migrations {
  private final Migrations delegate;
  private final MeterRegistry registry;
  private final AtomicInteger inFlight = new AtomicInteger();

  public MeteredMigrations(Migrations delegate, MeterRegistry registry) {
    this.delegate = delegate;
    this.registry = registry;
    registry.gauge("ums_migrations_in_flight", inFlight);
  }

  @Override
  public Future<JsonObject> prepareReceive(JsonObject request) {
    return delegate.prepareReceive(request).onSuccess(session -> watch(session.getString("sessionId")));
  }

  @Override
  public Future<String> startSend(JsonObject request) {
    return delegate.startSend(request).onSuccess(this::watch);
  }

  private void watch(String migrationId) {
    if (migrationId == null) {
      return;
    }
    inFlight.incrementAndGet();
    delegate.awaitCompletion(migrationId)
        .onComplete(ended -> {
          inFlight.decrementAndGet();
          if (ended.succeeded()) {
            record(ended.result());
          }
        });
  }

  private void record(JsonObject status) {
    String role = status.getString("role", "unknown");
    String outcome = status.getString("phase", "UNKNOWN");
    Counter.builder("ums_migrations_ended").description("Migrations that ended, by role and final phase")
        .tag("role", role).tag("outcome", outcome).register(registry).increment();
    JsonObject bytes = status.getJsonObject("bytes", new JsonObject());
    for (String kind : new String[] {"raw", "wire", "pages", "images", "layerBytesSent"}) {
      long value = bytes.getLong(kind, 0L);
      if (value > 0) {
        Counter.builder("ums_migration_bytes").baseUnit("bytes")
            .description("Bytes moved by migrations (raw: before compression; wire: on the socket)")
            .tag("role", role).tag("kind", kind.toLowerCase(Locale.ROOT)).register(registry).increment(value);
      }
    }
    JsonObject timings = status.getJsonObject("timings", new JsonObject());
    Long total = timings.getLong("totalMs");
    if (total != null) {
      Timer.builder("ums_migration_duration").description("Whole migration, from request to end")
          .tag("role", role).tag("outcome", outcome).publishPercentileHistogram()
          .register(registry).record(Duration.ofMillis(total));
    }
    Long downtime = timings.getLong("downtimeMs");
    if (downtime != null && "source".equals(role) && "DONE".equals(outcome)) {
      Timer.builder("ums_migration_downtime").description("Time the workload was frozen or not yet restored")
          .publishPercentileHistogram().register(registry).record(Duration.ofMillis(downtime));
    }
  }

  @Override
  public Future<JsonObject> awaitCompletion(String migrationId) {
    return delegate.awaitCompletion(migrationId);
  }

  @Override
  public Optional<JsonObject> status(String migrationId) {
    return delegate.status(migrationId);
  }

  @Override
  public Future<JsonObject> abort(String migrationId) {
    return delegate.abort(migrationId);
  }

  @Override
  public Future<Void> drain(Duration grace) {
    return delegate.drain(grace);
  }

  @Override
  public boolean busy() {
    return delegate.busy();
  }

  @Override
  public io.vertx.core.json.JsonArray stoppedSources() {
    return delegate.stoppedSources();
  }

  @Override
  public java.util.Map<String, String> heldSources() {
    return delegate.heldSources();
  }

  @Override
  public Future<JsonObject> settleStoppedSource(String migrationId, boolean kill) {
    return delegate.settleStoppedSource(migrationId, kill);
  }

  @Override
  public java.util.Optional<io.ums.agent.stopped.StoppedContainers> stoppedContainers() {
    return delegate.stoppedContainers();
  }
}
