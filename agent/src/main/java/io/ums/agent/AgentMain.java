package io.ums.agent;

import io.ums.agent.api.ControlSecurity;
import io.ums.agent.image.CheckpointImages;
import io.ums.agent.image.ImageCli;
import io.ums.agent.kubelet.KubeletSettings;
import io.ums.agent.migration.CriuMigrations;
import io.ums.agent.migration.MigrationHooks;
import io.ums.protocol.security.BearerToken;
import io.ums.protocol.security.ServerTls;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ums-agent-all.jar [options]} runs a node agent until SIGTERM/SIGINT, then drains and exits 0;
 * {@code ums-agent-all.jar image ...} manages the agent's OCI image store.
 */
@Command(name = "ums agent", mixinStandardHelpOptions = true, subcommands = {ImageCli.class},
    description = "Runs a UMS node agent: control API, data plane, workload launcher.")
public final class AgentMain implements Callable<Integer> {
  /** The migration engine this agent runs: CRIU over the UMS data plane, warmed before ready. */
  static final MigrationsFactory MIGRATIONS = DataPathWarmup.after((vertx, config, workloads, criu) ->
      CriuMigrations.start(vertx, config.engine(), workloads, criu, MigrationHooks.NONE));

  // --node and --work-dir are checked in call(), not by picocli, so that "image" runs without them.
  @Option(names = "--node", description = "This node's name (required).")
  String node;

  @Option(names = "--control-port", defaultValue = "" + AgentConfig.DEFAULT_CONTROL_PORT,
      description = "HTTP control API port (default: ${DEFAULT-VALUE}).")
  int controlPort;

  @Option(names = "--data-port", defaultValue = "" + AgentConfig.DEFAULT_DATA_PORT,
      description = "Data-plane (protocol) port (default: ${DEFAULT-VALUE}).")
  int dataPort;

  @Option(names = "--work-dir", description = "Where workload records, logs and sessions live (required).")
  Path workDir;

  @Option(names = "--token-file", description = "File holding the secret data-plane session tokens are made with.")
  Path tokenFile;

  @Option(names = "--bind", defaultValue = AgentConfig.DEFAULT_BIND_HOST,
      description = "Address the control and data ports listen on (default: ${DEFAULT-VALUE}).")
  String bindHost;

  @Option(names = "--advertise-host",
      description = "Address peers reach the data port at (default: --bind, or this host's first IPv4 address).")
  String advertiseHost;

  @Option(names = "--grace-period", defaultValue = "30",
      description = "Seconds in-flight migrations get to finish or roll back on SIGTERM (default: ${DEFAULT-VALUE}).")
  long gracePeriodSeconds;

  @Option(names = "--max-receive-sessions", defaultValue = "" + AgentConfig.DEFAULT_MAX_RECEIVE_SESSIONS,
      description = "Receive sessions open at once (prepared or under way); more answer 429"
          + " (default: ${DEFAULT-VALUE}).")
  int maxReceiveSessions;

  @Option(names = "--criu", description = "CRIU binary (default: criu on PATH).")
  Path criuPath;

  @Option(names = "--kubelet-url",
      description = "The node's kubelet, e.g. https://$(NODE_IP):10250: enables the orchestrator-level approach"
          + " (kubelet checkpoint API).")
  java.net.URI kubeletUrl;

  @Option(names = "--kubelet-token-file",
      description = "Bearer token for the kubelet (the service account's token; re-read for every call).")
  Path kubeletTokenFile;

  @Option(names = "--kubelet-ca", description = "PEM of the CA that signed the kubelet's serving certificate.")
  Path kubeletCa;

  @Option(names = "--kubelet-insecure-tls",
      description = "Do not verify the kubelet's certificate (test clusters only).")
  boolean kubeletInsecureTls;

  @Option(names = "--kubelet-checkpoint-dir", defaultValue = "/var/lib/kubelet/checkpoints",
      description = "Where the kubelet's checkpoint archives appear on this agent's file system"
          + " (default: ${DEFAULT-VALUE}).")
  Path kubeletCheckpointDir;

  @Option(names = "--kubelet-timeout", defaultValue = "300",
      description = "Seconds one kubelet checkpoint call may take (default: ${DEFAULT-VALUE}).")
  long kubeletTimeoutSeconds;

  @Option(names = "--checkpoint-images", defaultValue = CheckpointImages.CONTAINERS_STORAGE,
      description = "Where received checkpoints are imported as checkpoint images: containers-storage (what"
          + " CRI-O and podman read), oci:<dir>, or containerd:<socket>[#<namespace>] (a node's containerd, namespace"
          + " k8s.io unless given, imported with ctr) (default: ${DEFAULT-VALUE}).")
  String checkpointImages;

  @Option(names = "--retire-checkpoint-images-after", defaultValue = "1800",
      description = "Seconds after its import at which this agent retires a received checkpoint image that no"
          + " coordinator retired or discarded (its name then starts the container's own image, the checkpoint's"
          + " bytes leave the node); 0: never (default: ${DEFAULT-VALUE}).")
  long retireCheckpointImagesAfterSeconds;

  @Option(names = "--ctr", defaultValue = CheckpointImages.DEFAULT_CTR,
      description = "The ctr binary a containerd:<socket> checkpoint image target runs, a path or a name looked up"
          + " on PATH (default: ${DEFAULT-VALUE}).")
  String ctr;

  @Option(names = "--control-token-file", defaultValue = "${env:UMS_CONTROL_TOKEN_FILE}",
      description = "File holding the bearer token every control API call but GET /health and GET /metrics must"
          + " carry (env UMS_CONTROL_TOKEN_FILE). Without it the control API is open to anyone who reaches it.")
  Path controlTokenFile;

  @Option(names = "--tls-cert", description = "PEM certificate chain of the control API: it then speaks HTTPS only.")
  Path tlsCert;

  @Option(names = "--tls-key", description = "PEM private key that goes with --tls-cert.")
  Path tlsKey;

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  private final MigrationsFactory migrationsFactory;

  public AgentMain() {
    this(MIGRATIONS);
  }

  private AgentMain(MigrationsFactory migrationsFactory) {
    this.migrationsFactory = migrationsFactory;
  }

  public static void main(String[] args) {
    System.exit(run(args, MIGRATIONS));
  }

  /**
   * Runs the agent command with {@code migrationsFactory} as its engine: {@link #main} with the production
   * one, a test's own main class with an engine that has fault hooks installed. Returns the exit code.
   */
  public static int run(String[] args, MigrationsFactory migrationsFactory) {
    configureLogging();
    return new CommandLine(new AgentMain(migrationsFactory)).execute(args);
  }

  @Override
  public Integer call() throws Exception {
    if (node == null || node.isBlank()) {
      throw new CommandLine.ParameterException(spec.commandLine(), "Missing required option: '--node=<node>'");
    }
    if (workDir == null) {
      throw new CommandLine.ParameterException(spec.commandLine(),
          "Missing required option: '--work-dir=<workDir>'");
    }
    if (gracePeriodSeconds < 0) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--grace-period must be >= 0");
    }
    if (maxReceiveSessions < 1) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--max-receive-sessions must be >= 1");
    }
    AgentConfig config = new AgentConfig(node, bindHost, Optional.ofNullable(advertiseHost)
        .orElseGet(() -> defaultAdvertiseHost(bindHost)), controlPort, dataPort, workDir,
        Optional.ofNullable(tokenFile), Optional.ofNullable(criuPath), Duration.ofSeconds(gracePeriodSeconds),
        kubeletSettings()).withControlSecurity(controlSecurity()).withMaxReceiveSessions(maxReceiveSessions);
    Agent agent;
    try {
      agent = Agent.start(config, migrationsFactory).toCompletionStage().toCompletableFuture().get();
    } catch (java.util.concurrent.ExecutionException e) {
      System.err.println("agent " + node + " failed to start: " + e.getCause().getMessage());
      return 1;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    ShutdownSignals.onTermination(signal -> agent.shutdown().onComplete(ignored -> stopped.countDown()));
    stopped.await();
    // a moment for the last log lines; vert.x is closed already
    TimeUnit.MILLISECONDS.sleep(10);
    return 0;
  }

  private KubeletSettings kubeletSettings() {
    CheckpointImages images;
    try {
      images = CheckpointImages.parse(checkpointImages, ctr);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--checkpoint-images: " + e.getMessage());
    }
    if (kubeletUrl != null && !List.of("http", "https").contains(String.valueOf(kubeletUrl.getScheme()))) {
      throw new CommandLine.ParameterException(spec.commandLine(),
          "--kubelet-url must be an http(s) URL, got " + kubeletUrl);
    }
    if (kubeletCa != null && kubeletInsecureTls) {
      throw new CommandLine.ParameterException(spec.commandLine(),
          "--kubelet-ca and --kubelet-insecure-tls exclude each other");
    }
    for (Path file : new Path[] {kubeletCa, kubeletTokenFile}) {
      if (file != null && !java.nio.file.Files.isReadable(file)) {
        throw new CommandLine.ParameterException(spec.commandLine(), "cannot read " + file
            + (file == kubeletCa ? " (--kubelet-ca)" : " (--kubelet-token-file)"));
      }
    }
    if (kubeletTimeoutSeconds <= 0) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--kubelet-timeout must be > 0");
    }
    if (retireCheckpointImagesAfterSeconds < 0) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--retire-checkpoint-images-after must be >= 0");
    }
    return new KubeletSettings(Optional.ofNullable(kubeletUrl), Optional.ofNullable(kubeletTokenFile),
        Optional.ofNullable(kubeletCa), kubeletInsecureTls, kubeletCheckpointDir, images,
        Duration.ofSeconds(kubeletTimeoutSeconds), Duration.ofSeconds(retireCheckpointImagesAfterSeconds));
  }

  // Blocking reads on the main thread, before anything listens; a bad file stops the start with its reason.
  private ControlSecurity controlSecurity() {
    try {
      ControlSecurity security = controlTokenFile == null ? ControlSecurity.open()
          : ControlSecurity.withToken(BearerToken.fromFile("--control-token-file", controlTokenFile));
      Optional<ServerTls> tls = ServerTls.fromFlags(tlsCert, tlsKey);
      return tls.isPresent() ? security.withTls(tls.get().verified()) : security;
    } catch (IOException | IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
  }

  // slf4j-simple reads these once, at the first logger: one line per event, with a timestamp.
  private static void configureLogging() {
    System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
    System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSZ");
    System.setProperty("org.slf4j.simpleLogger.showThreadName", "false");
    System.setProperty("org.slf4j.simpleLogger.showShortLogName", "true");
    System.setProperty("org.slf4j.simpleLogger.log.io.netty", "warn");
    // vertx-micrometer registers one HTTP server gauge twice and micrometer warns about it: noise
    System.setProperty("org.slf4j.simpleLogger.log.io.micrometer.core.instrument.MeterRegistry", "error");
  }

  static String defaultAdvertiseHost(String bindHost) {
    if (!bindHost.equals("0.0.0.0") && !bindHost.equals("::")) {
      return bindHost;
    }
    // The address of the default route's interface is the one other nodes most likely reach: a host with
    // bridges and veths (container runtimes, test namespaces) lists those first. Connecting a UDP socket
    // only asks the kernel for a route; no packet is sent.
    try (java.net.DatagramSocket probe = new java.net.DatagramSocket()) {
      probe.connect(InetAddress.getByName("203.0.113.1"), 9);
      InetAddress local = probe.getLocalAddress();
      if (local instanceof Inet4Address && !local.isAnyLocalAddress() && !local.isLoopbackAddress()) {
        return local.getHostAddress();
      }
    } catch (IOException | RuntimeException e) {
      // no default route: fall back to the first address of an interface that is up
    }
    try {
      for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
        if (!nic.isUp() || nic.isLoopback()) {
          continue;
        }
        for (InetAddress address : Collections.list(nic.getInetAddresses())) {
          if (address instanceof Inet4Address) {
            return address.getHostAddress();
          }
        }
      }
    } catch (SocketException e) {
      // fall through to loopback: a node with no network can still run local workloads
    }
    return "127.0.0.1";
  }
}
