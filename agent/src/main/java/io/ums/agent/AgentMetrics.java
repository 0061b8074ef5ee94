package io.ums.agent;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.ums.agent.workload.ProcessWorkloads;
import io.ums.protocol.UmsVertx;
import io.ums.agent.workload.WorkloadStatus;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.micrometer.backends.BackendRegistries;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.VertxPrometheusOptions;
import java.util.UUID;
import java.util.function.BooleanSupplier;

/**
 * The agent's Prometheus registry: Vert.x's own metrics (HTTP server, event loops, pools, via
 * vertx-micrometer-metrics), the JVM's (heap, threads: the agent must stay small while streaming), and the
 * agent's (workloads by status, draining). Scraped at GET /metrics.
 */
public final class AgentMetrics {
  private final Vertx vertx;
  private final PrometheusMeterRegistry registry;

  private AgentMetrics(Vertx vertx, PrometheusMeterRegistry registry) {
    this.vertx = vertx;
    this.registry = registry;
  }

  /**
   * A Vert.x instance (the project's {@link UmsVertx}: native transport) reporting into a Prometheus
   * registry of its own; the registry name is unique so that several agents can share a JVM (tests).
   */
  public static AgentMetrics create() {
    String registryName = "ums-agent-" + UUID.randomUUID();
    Vertx vertx = UmsVertx.create(new VertxOptions().setMetricsOptions(new MicrometerMetricsOptions()
        .setEnabled(true).setRegistryName(registryName)
        .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true))));
    PrometheusMeterRegistry registry = (PrometheusMeterRegistry) BackendRegistries.getNow(registryName);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    return new AgentMetrics(vertx, registry);
  }

  public Vertx vertx() {
    return vertx;
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  public void bindAgent(ProcessWorkloads workloads, BooleanSupplier draining) {
    for (WorkloadStatus status : WorkloadStatus.values()) {
      Gauge.builder("ums_workloads", workloads, registered -> registered.countByStatus().get(status))
          .description("Workloads on this node by status").tag("status", status.name()).register(registry);
    }
    Gauge.builder("ums_agent_draining", () -> draining.getAsBoolean() ? 1 : 0)
        .description("1 while the agent shuts down and refuses new sessions").register(registry);
  }
}
