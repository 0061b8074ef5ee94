package io.ums.agent;

import io.ums.agent.criu.CriuInstallation;
import io.ums.agent.error.AgentException;
import io.ums.agent.error.ApiError;
import io.ums.agent.migration.Migrations;
import io.ums.agent.workload.Workloads;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Optional;

/** Stands in for the migration engine until it is wired: every migration request answers 503. */
public final class UnavailableMigrations implements Migrations {
  private static final String MESSAGE = "migration engine not available";

  /** A {@link io.ums.agent.MigrationsFactory}. */
  public static Future<Migrations> start(Vertx vertx, AgentConfig config, Workloads workloads,
                                         CriuInstallation criu) {
    return Future.succeededFuture(new UnavailableMigrations());
  }

  @Override
  public Future<JsonObject> prepareReceive(JsonObject request) {
    return unavailable();
  }

  @Override
  public Future<String> startSend(JsonObject request) {
    return unavailable();
  }

  @Override
  public Future<JsonObject> awaitCompletion(String migrationId) {
    return unavailable();
  }

  @Override
  public Optional<JsonObject> status(String migrationId) {
    return Optional.empty();
  }

  @Override
  public Future<JsonObject> abort(String migrationId) {
    return unavailable();
  }

  @Override
  public Future<Void> drain(Duration grace) {
    return Future.succeededFuture();
  }

  @Override
  public boolean busy() {
    return false;
  }

  private static <T> Future<T> unavailable() {
    return Future.failedFuture(new AgentException(ApiError.UNAVAILABLE, MESSAGE));
  }
}
