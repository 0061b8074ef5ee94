package io.ums.agent.migration;

import io.ums.agent.container.ContainerWorkloads;
import io.ums.agent.criu.CriuRunner;
import io.ums.agent.image.CheckpointImageLedger;
import io.ums.agent.kubelet.KubeletSettings;
import io.ums.agent.stopped.StoppedContainers;
import io.ums.agent.stopped.StoppedSources;
import io.ums.agent.workload.Workloads;
import io.ums.protocol.UmsClient;
import io.vertx.core.Vertx;
import java.util.Optional;

/**
 * What every migration of this agent uses. {@code localHost} is where CRIU reaches the agent (loopback);
 * {@code containers} are the node's containers (when container support is up), {@code workDir} holds what is too large for the tmpfs session root (kubelet checkpoint archives); {@code stopped}: the containers held stopped for a consistent pod migration.
 * {@code stoppedSources}: the process trees and runc containers its own migrations stop (see {@link StoppedSources}).
 * {@code imageLedger}: the checkpoint images this agent imported that no coordinator settled yet.
 */
record MigrationDeps(Vertx vertx, String node, Workloads workloads, Optional<ContainerWorkloads> containers,
                     CriuRunner criu, UmsClient client, MigrationSettings settings, String localHost,
                     java.nio.file.Path workDir, KubeletSettings kubelet, MigrationHooks hooks,
                     StoppedContainers stopped, StoppedSources stoppedSources,
                     CheckpointImageLedger imageLedger) {}
