package io.ums.agent;

import io.ums.agent.api.ControlApi;
import io.ums.agent.api.NodeInfo;
import io.ums.agent.container.ContainerSupport;
import io.ums.agent.criu.CriuInstallation;
import io.ums.agent.image.CheckpointImageLedger;
import io.ums.agent.image.CheckpointImageRoutes;
import io.ums.agent.migration.MeteredMigrations;
import io.ums.agent.migration.Migrations;
import io.ums.agent.workload.ProcessWorkloads;
import io.ums.agent.workload.Workloads;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running node agent: its Vert.x, CRIU probe, workload registry, migration engine and control API.
 * {@link #start} brings them up in order; {@link #shutdown} drains (new sessions answer 503, in-flight
 * migrations finish or roll back within the grace period) and stops everything except the workloads,
 * which keep running for the next agent on the same work dir.
 */
public final class Agent {
  private static final Logger LOG = LoggerFactory.getLogger(Agent.class);
  /** Beyond the grace period, how long shutdown waits for the engine to report its rollbacks done. */
  private static final Duration DRAIN_SLACK = Duration.ofSeconds(10);

  private final AgentConfig config;
  private final Vertx vertx;
  private final CriuInstallation criu;
  private final ProcessWorkloads workloads;
  private final Workloads registry;
  private final Migrations migrations;
  private final HttpServer server;
  private final AtomicBoolean draining;
  private final AtomicBoolean stopped = new AtomicBoolean();

  private Agent(AgentConfig config, Vertx vertx, CriuInstallation criu, ProcessWorkloads workloads,
                Workloads registry, Migrations migrations, HttpServer server, AtomicBoolean draining) {
    this.config = config;
    this.vertx = vertx;
    this.criu = criu;
    this.workloads = workloads;
    this.registry = registry;
    this.migrations = migrations;
    this.server = server;
    this.draining = draining;
  }

  public static Future<Agent> start(AgentConfig config, MigrationsFactory migrationsFactory) {
    AgentMetrics metrics = AgentMetrics.create();
    Vertx vertx = metrics.vertx();
    AtomicBoolean draining = new AtomicBoolean();
    ProcessWorkloads workloads = new ProcessWorkloads(vertx, config.workDir());
    metrics.bindAgent(workloads, draining::get);
    Future<CriuInstallation> criuProbe = vertx.executeBlocking(() -> {
      Files.createDirectories(config.workDir());
      return CriuInstallation.probe(config.criuPath());
    });
    Future<List<String>> runtimesFound = vertx.executeBlocking(() -> installedRuntimes(config.kubelet().configured()));
    return Future.all(criuProbe, runtimesFound).map(probed -> criuProbe.result()).compose(criu -> {
      logCriu(criu);
      return workloads.start()
          .compose(ignored -> ContainerSupport.start(vertx, config.workDir(), workloads))
          .compose(containers -> migrationsFactory.start(vertx, config, containers.workloads(), criu)
          .<Migrations>map(started -> new MeteredMigrations(started, metrics.registry()))
          .compose(migrations -> {
            NodeInfo node = NodeInfo.local(config.node(), config.dataAddress(), runtimesFound.result(),
                config.kubelet());
            ControlApi api = new ControlApi(vertx, node, criu, containers.workloads(), migrations,
                metrics.registry(), draining::get);
            Router router = api.router();
            containers.mountRoutes(router);
            new CheckpointImageRoutes(vertx, config.kubelet().checkpointImages(), new CheckpointImageLedger(
                config.workDir(), config.kubelet().checkpointImages())).mount(router);
            config.controlSecurity().guard(router);
            return vertx.createHttpServer(config.controlSecurity().applyTo(new HttpServerOptions()
                    .setHost(config.bindHost()).setPort(config.controlPort())))
                .requestHandler(router).listen()
                .map(server -> new Agent(config, vertx, criu, workloads, containers.workloads(), migrations, server,
                    draining));
          }));
    }).onSuccess(agent -> LOG.info("agent {} up: control {}://{}:{}{}, data {}, work dir {}", config.node(),
            config.controlSecurity().scheme(), config.bindHost(), agent.controlPort(),
            config.controlSecurity().token().isPresent() ? " (bearer token required)" : "", config.dataAddress(),
            config.workDir()))
        .onSuccess(agent -> {
          if (config.controlSecurity().token().isEmpty()) {
            LOG.warn("control API on port {} is OPEN: anyone who reaches it can checkpoint, start and remove"
                + " processes on this node; give --control-token-file (development only without it)",
                agent.controlPort());
          }
        })
        .onFailure(failure -> vertx.close());
  }

  /**
   * What this node can run and checkpoint, as GET /v1/info reports it: processes always, runc and podman
   * only when installed (the agent image, for one, has runc but no podman), the kubelet when configured.
   * Blocking.
   */
  static List<String> installedRuntimes(boolean kubeletConfigured) {
    List<String> runtimes = new java.util.ArrayList<>(List.of("process"));
    String path = System.getenv().getOrDefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for (String runtime : List.of("runc", "podman")) {
      if (java.util.Arrays.stream(path.split(":")).anyMatch(dir -> !dir.isEmpty()
          && Files.isExecutable(java.nio.file.Path.of(dir, runtime)))) {
        runtimes.add(runtime);
      }
    }
    if (kubeletConfigured) {
      runtimes.add("kubelet");
    }
    return runtimes;
  }

  private static void logCriu(CriuInstallation criu) {
    if (criu.usable()) {
      LOG.info("CRIU {} at {}: lazy pages {}, dirty tracking {}", criu.version().orElseThrow(),
          criu.binary().orElseThrow(), criu.lazyPages(), criu.dirtyTracking());
    } else {
      LOG.warn("migrations will be refused: {}", criu.problem().orElseThrow());
    }
  }

  public int controlPort() {
    return server.actualPort();
  }

  public AgentConfig config() {
    return config;
  }

  public Vertx vertx() {
    return vertx;
  }

  /** Every workload of this agent, processes and containers. */
  public Workloads workloads() {
    return registry;
  }

  public CriuInstallation criu() {
    return criu;
  }

  public boolean draining() {
    return draining.get();
  }

  /**
   * Refuses new sessions, lets the migration engine finish or roll back what is in flight within the
   * grace period, then closes the server and Vert.x. Workloads are left running. Idempotent.
   */
  public Future<Void> shutdown() {
    if (!stopped.compareAndSet(false, true)) {
      return Future.succeededFuture();
    }
    draining.set(true);
    Duration grace = config.gracePeriod();
    LOG.info("agent {} DRAINING: new sessions refused, in-flight migrations get {} s", config.node(),
        grace.toSeconds());
    return migrations.drain(grace)
        .timeout(grace.plus(DRAIN_SLACK).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
        .recover(failure -> {
          LOG.warn("drain did not complete cleanly: {}", failure.toString());
          return Future.succeededFuture();
        })
        .compose(ignored -> server.close())
        .eventually(() -> {
          workloads.stop();
          return vertx.close();
        })
        .onComplete(ignored -> LOG.info("agent {} stopped; {} workload(s) left running", config.node(),
            registry.list().size()));
  }
}
