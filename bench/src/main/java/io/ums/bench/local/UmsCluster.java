package io.ums.bench.local;

import io.ums.testkit.NetworkTestbed;
import io.ums.testkit.TestCertificates;
import io.ums.protocol.security.ServerTls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * UMS in local mode on a testbed: one real agent per node, started from the shaded jar inside the node's
 * network namespace ({@code nsenter --net}), and one coordinator in the root namespace that knows them. All of
 * them require the run's bearer token ({@link JsonHttp#token()}): the agents on their control API, the
 * coordinator on its user API and on /v1/reservations (which it calls on itself).
 */
public final class UmsCluster {
  public static final int AGENT_CONTROL_PORT = 7070;
  public static final int AGENT_DATA_PORT = 7071;
  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

  private final NetworkTestbed testbed;
  private final List<String> agentUrls;
  private final String coordinatorUrl;
  private final Path workDir;
  private final List<Long> agentPids;

  private UmsCluster(NetworkTestbed testbed, List<String> agentUrls, String coordinatorUrl, Path workDir,
      List<Long> agentPids) {
    this.testbed = testbed;
    this.workDir = workDir;
    this.agentUrls = agentUrls;
    this.coordinatorUrl = coordinatorUrl;
    this.agentPids = agentPids;
  }

  /** Starts the agents and the coordinator, waits until all answer /health; their stop goes to cleanup. */
  public static UmsCluster start(NetworkTestbed testbed, UmsJars jars, Path workDir, Path logDir, Cleanup cleanup,
      JsonHttp http) {
    return start(testbed, jars, workDir, logDir, cleanup, http, Optional.empty());
  }

  /**
   * As above; with a CA, the agents' control API and the coordinator serve HTTPS with certificates it signs
   * (for each node's address, and 127.0.0.1), the coordinator trusts only that CA, and {@code http} must too
   * ({@link JsonHttp#trusting}).
   */
  public static UmsCluster start(NetworkTestbed testbed, UmsJars jars, Path workDir, Path logDir, Cleanup cleanup,
      JsonHttp http, Optional<TestCertificates> tls) {
    String scheme = tls.isPresent() ? "https://" : "http://";
    try {
      Files.createDirectories(workDir);
      Files.createDirectories(logDir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Path tokenFile = writeToken(http, workDir);
    List<String> agentUrls = new ArrayList<>();
    List<Long> agentPids = new ArrayList<>();
    for (NetworkTestbed.Node node : testbed.nodes()) {
      Path agentDir = workDir.resolve(node.name());
      List<String> command = new ArrayList<>(UmsJars.agentJavaJar(jars.agent()));
      command.addAll(List.of("--node", node.name(),
          "--control-port", String.valueOf(AGENT_CONTROL_PORT),
          "--data-port", String.valueOf(AGENT_DATA_PORT),
          "--work-dir", agentDir.toString(),
          "--control-token-file", tokenFile.toString(),
          "--advertise-host", node.address()));
      tls.ifPresent(ca -> command.addAll(certificateFlags(ca.server(node.name(), List.of(node.address())))));
      ChildProcess agent = ChildProcess.start("agent " + node.name(), node.inNode(command),
          logDir.resolve(node.name() + "-agent.log"));
      cleanup.push(agent.name(), agent::close);
      agentPids.add(agent.pid());
      agentUrls.add(scheme + node.address() + ":" + AGENT_CONTROL_PORT);
    }
    int coordinatorPort = freePort();
    String agents = testbed.nodes().stream()
        .map(node -> node.name() + "=" + agentUrls.get(testbed.nodes().indexOf(node)))
        .collect(Collectors.joining(","));
    List<String> command = new ArrayList<>(UmsJars.coordinatorJavaJar(jars.coordinator()));
    command.addAll(List.of("--host", "127.0.0.1", "--port", String.valueOf(coordinatorPort), "--agents", agents,
        "--agent-token-file", tokenFile.toString(), "--peer-token-file", tokenFile.toString(),
        "--api-token-file", tokenFile.toString()));
    tls.ifPresent(ca -> {
      command.addAll(certificateFlags(ca.server("coordinator", List.of("127.0.0.1"))));
      command.addAll(List.of("--ca", ca.caCertificate().toString()));
    });
    ChildProcess coordinator = ChildProcess.start("coordinator", command, logDir.resolve("coordinator.log"));
    cleanup.push(coordinator.name(), coordinator::close);
    String coordinatorUrl = scheme + "127.0.0.1:" + coordinatorPort;

    List<String> health = new ArrayList<>(agentUrls.stream().map(u -> u + "/health").toList());
    health.add(coordinatorUrl + "/healthcheck");
    for (String url : health) {
      Waits.until(url, START_TIMEOUT, 100, () -> {
        if (!coordinator.isAlive()) {
          throw new IllegalStateException("the coordinator exited; see " + coordinator.log());
        }
        try {
          return http.get(url, Duration.ofSeconds(2)).ok();
        } catch (JsonHttp.HttpFailure notYet) {
          return false;
        }
      });
    }
    return new UmsCluster(testbed, List.copyOf(agentUrls), coordinatorUrl, workDir, List.copyOf(agentPids));
  }

  public NetworkTestbed testbed() {
    return testbed;
  }

  public String agentUrl(int node) {
    return agentUrls.get(node);
  }

  /** The node's agent's --work-dir (its image store, containers and sessions). */
  public Path agentWorkDir(int node) {
    return workDir.resolve(testbed.node(node).name());
  }

  /** The agents' process ids (the JVMs: nsenter execs java), node by node. */
  public List<Long> agentPids() {
    return agentPids;
  }

  public String coordinatorUrl() {
    return coordinatorUrl;
  }

  private static List<String> certificateFlags(ServerTls files) {
    return List.of("--tls-cert", files.certificate().toString(), "--tls-key", files.privateKey().toString());
  }

  private static Path writeToken(JsonHttp http, Path workDir) {
    try {
      return http.token().writeTo(workDir.resolve("local.token"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
