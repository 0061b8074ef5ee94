package io.ums.agent;

import io.ums.agent.criu.CriuInstallation;
import io.ums.agent.migration.Migrations;
import io.ums.agent.workload.Workloads;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/**
 * Starts the migration engine of an agent (its data-plane server included) once the workload registry is
 * up. {@link AgentMain} names the one the agent runs; tests may start an agent with another.
 */
@FunctionalInterface
public interface MigrationsFactory {
  Future<Migrations> start(Vertx vertx, AgentConfig config, Workloads workloads, CriuInstallation criu);
}
