package io.ums.agent.migration;

import io.ums.agent.kubelet.KubeletSettings;
import java.nio.file.Path;

/**
 * The part of the agent's configuration the migration engine reads: the node's name, where the data port
 * listens and is reached, the work dir, the kubelet approach, and how many receive sessions it holds at most.
 */
public record EngineConfig(String node, String bindHost, int dataPort, String advertiseHost, Path workDir,
                           KubeletSettings kubelet, int maxReceiveSessions) {}
