package io.ums.coordinator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.ums.coordinator.cluster.AgentList;
import io.ums.coordinator.cluster.AgentRef;
import io.ums.coordinator.cluster.Cluster;
import io.ums.coordinator.cluster.LocalCluster;
import io.ums.coordinator.kubernetes.KubernetesCluster;
import io.ums.coordinator.migration.MigrationSettings;
import io.ums.coordinator.peer.PeerClient;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ./ums coordinator --port P [--agents n=url,…] [--agents-file F] [--kubernetes]}. */
@Command(
    name = "coordinator",
    mixinStandardHelpOptions = true,
    description = "The UMS coordinator: the migration API (POST /migrate ...) over a set of node agents.")
public final class CoordinatorMain implements Callable<Integer> {
  @Option(names = "--port", description = "HTTP port (default ${DEFAULT-VALUE})")
  int port = Defaults.COORDINATOR_PORT;

  @Option(names = "--host", description = "address to listen on (default ${DEFAULT-VALUE})")
  String host = "0.0.0.0";

  @Option(names = "--agents", description = "local mode: node=controlUrl,... e.g. node-a=http://10.1.0.2:7070")
  String agents;

  @Option(names = "--agents-file", description = "local mode: YAML or JSON file listing the agents")
  Path agentsFile;

  @Option(names = "--kubernetes", description = "discover pods and agents through the Kubernetes API")
  boolean kubernetes;

  @Option(names = "--agent-namespace", description = "namespace of the agent DaemonSet (default ${DEFAULT-VALUE})")
  String agentNamespace = KubernetesCluster.DEFAULT_AGENT_NAMESPACE;

  @Option(names = "--phase-timeout", description = "seconds a migration phase may go without progress (default ${DEFAULT-VALUE})")
  long phaseTimeoutSeconds = Defaults.PHASE_TIMEOUT.toSeconds();

  @Option(names = "--agent-loss-timeout", description = "seconds a source agent may go without answering during a"
      + " migration before it counts as lost and the destination is asked what happened (default ${DEFAULT-VALUE})")
  long agentLossTimeoutSeconds = Defaults.AGENT_LOSS_TIMEOUT.toSeconds();

  @Option(names = "--keep-finished",
      description = "finished migrations GET /migrations keeps (default ${DEFAULT-VALUE})")
  int finishedKept = Defaults.FINISHED_MIGRATIONS_KEPT;

  @Option(names = "--keep-finished-for", description = "seconds a finished migration is kept at most"
      + " (default ${DEFAULT-VALUE})")
  long finishedTtlSeconds = Defaults.FINISHED_MIGRATIONS_TTL.toSeconds();

  @Option(names = "--encrypt-data-plane",
      description = "encrypt pages (TLS 1.3) between nodes of this cluster too; between clusters always")
  boolean encryptInCluster;

  @Mixin
  SecurityFlags security = new SecurityFlags();

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(new CommandLine(new CoordinatorMain()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (kubernetes == (agents != null || agentsFile != null)) {
      throw new CommandLine.ParameterException(
          new CommandLine(this), "give either --kubernetes or --agents / --agents-file (local mode)");
    }
    CoordinatorSecurity secured;
    try {
      secured = security.load();
    } catch (java.io.IOException | IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    Vertx vertx = Vertx.vertx();
    Function<PeerClient, Cluster> cluster = kubernetes ? kubernetesCluster(vertx) : localCluster();
    if (phaseTimeoutSeconds <= 0 || agentLossTimeoutSeconds <= 0 || finishedKept < 0 || finishedTtlSeconds < 0) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--phase-timeout and --agent-loss-timeout must be"
          + " positive, --keep-finished and --keep-finished-for not negative");
    }
    MigrationSettings settings = new MigrationSettings(Defaults.STATUS_POLL_INTERVAL,
        Duration.ofSeconds(phaseTimeoutSeconds), Duration.ofSeconds(agentLossTimeoutSeconds), finishedKept,
        Duration.ofSeconds(finishedTtlSeconds), encryptInCluster);
    Coordinator coordinator =
        Coordinator.start(vertx, host, port, cluster, settings, secured).toCompletionStage().toCompletableFuture()
            .get();
    System.out.println("coordinator listening on " + secured.scheme() + "://" + host + ":" + coordinator.port()
        + (kubernetes ? " (kubernetes)" : " (local mode)"));
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      // on the hook's own thread: await() blocks here, never on an event loop
      try {
        coordinator.close().await();
        vertx.close().await();
      } finally {
        stopped.countDown();
      }
    }, "coordinator-shutdown"));
    stopped.await();
    return 0;
  }

  private Function<PeerClient, Cluster> localCluster() throws Exception {
    List<AgentRef> list = new ArrayList<>();
    if (agents != null) {
      list.addAll(AgentList.parseFlag(agents));
    }
    if (agentsFile != null) {
      list.addAll(AgentList.parseFile(agentsFile));
    }
    List<AgentRef> all = List.copyOf(list);
    return http -> new LocalCluster(all, http);
  }

  private Function<PeerClient, Cluster> kubernetesCluster(Vertx vertx) {
    KubernetesClient client = new KubernetesClientBuilder().build();
    return http -> new KubernetesCluster(vertx, client, agentNamespace, http);
  }
}
