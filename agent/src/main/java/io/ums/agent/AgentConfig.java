package io.ums.agent;

import io.ums.agent.api.ControlSecurity;
import io.ums.agent.kubelet.KubeletSettings;
import io.ums.agent.migration.EngineConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * How one agent runs. {@code controlPort} or {@code dataPort} 0 picks a free port (tests).
 * {@code advertiseHost} is the address peers reach this node's data port at (the host part of
 * "dataAddress" in /v1/info). {@code tokenFile} holds the secret the data plane signs session tokens with,
 * when given. {@code criuPath} overrides the lookup of CRIU on PATH. {@code kubelet} configures the
 * orchestrator-level approach (the node's kubelet checkpoint API) and where checkpoint images are imported.
 * {@code controlSecurity} is who may call the control API (bearer token) and whether it speaks TLS.
 * {@code maxReceiveSessions} caps the receive sessions open at once (prepared or under way): each holds a
 * checkpoint in memory-backed storage, so a flood of them would exhaust the node.
 */
public record AgentConfig(String node, String bindHost, String advertiseHost, int controlPort, int dataPort,
                          Path workDir, Optional<Path> tokenFile, Optional<Path> criuPath, Duration gracePeriod,
                          KubeletSettings kubelet, ControlSecurity controlSecurity, int maxReceiveSessions) {
  public static final int DEFAULT_CONTROL_PORT = 7070;
  public static final int DEFAULT_DATA_PORT = 7071;
  public static final String DEFAULT_BIND_HOST = "0.0.0.0";
  public static final Duration DEFAULT_GRACE_PERIOD = Duration.ofSeconds(30);
  public static final int DEFAULT_MAX_RECEIVE_SESSIONS = 16;

  public AgentConfig {
    workDir = workDir.toAbsolutePath();
  }

  /** With an open, plain-HTTP control API. */
  public AgentConfig(String node, String bindHost, String advertiseHost, int controlPort, int dataPort, Path workDir,
                     Optional<Path> tokenFile, Optional<Path> criuPath, Duration gracePeriod, KubeletSettings kubelet) {
    this(node, bindHost, advertiseHost, controlPort, dataPort, workDir, tokenFile, criuPath, gracePeriod, kubelet,
        ControlSecurity.open(), DEFAULT_MAX_RECEIVE_SESSIONS);
  }

  /** Without the kubelet approach. */
  public AgentConfig(String node, String bindHost, String advertiseHost, int controlPort, int dataPort, Path workDir,
                     Optional<Path> tokenFile, Optional<Path> criuPath, Duration gracePeriod) {
    this(node, bindHost, advertiseHost, controlPort, dataPort, workDir, tokenFile, criuPath, gracePeriod,
        KubeletSettings.none());
  }

  /** A config for tests and embedding: loopback, free ports, default grace period. */
  public static AgentConfig local(String node, Path workDir) {
    return new AgentConfig(node, "127.0.0.1", "127.0.0.1", 0, 0, workDir, Optional.empty(), Optional.empty(),
        DEFAULT_GRACE_PERIOD);
  }

  public AgentConfig withGracePeriod(Duration grace) {
    return new AgentConfig(node, bindHost, advertiseHost, controlPort, dataPort, workDir, tokenFile, criuPath,
        grace, kubelet, controlSecurity, maxReceiveSessions);
  }

  public AgentConfig withKubelet(KubeletSettings settings) {
    return new AgentConfig(node, bindHost, advertiseHost, controlPort, dataPort, workDir, tokenFile, criuPath,
        gracePeriod, settings, controlSecurity, maxReceiveSessions);
  }

  public AgentConfig withControlSecurity(ControlSecurity security) {
    return new AgentConfig(node, bindHost, advertiseHost, controlPort, dataPort, workDir, tokenFile, criuPath,
        gracePeriod, kubelet, security, maxReceiveSessions);
  }

  public AgentConfig withMaxReceiveSessions(int max) {
    return new AgentConfig(node, bindHost, advertiseHost, controlPort, dataPort, workDir, tokenFile, criuPath,
        gracePeriod, kubelet, controlSecurity, max);
  }

  public String dataAddress() {
    String host = advertiseHost.contains(":") ? "[" + advertiseHost + "]" : advertiseHost;
    return host + ":" + dataPort;
  }

  /** What the migration engine reads of this configuration. */
  public EngineConfig engine() {
    return new EngineConfig(node, bindHost, dataPort, advertiseHost, workDir, kubelet, maxReceiveSessions);
  }
}
