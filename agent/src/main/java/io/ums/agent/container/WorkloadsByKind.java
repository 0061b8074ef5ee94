package io.ums.agent.container;

import io.ums.agent.workload.LogSink;
import io.ums.agent.workload.OutputRelay;
import io.ums.agent.workload.Workload;
import io.ums.agent.workload.WorkloadSpec;
import io.ums.agent.workload.Workloads;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;

/**
 * The agent's one registry, as the control API and the migration engine see it: process workloads go to
 * the process registry, containers to {@link ContainerWorkloads}; calls by id go to whichever holds the id.
 * Restored processes come back through {@link #openRelay}/{@link #adoptRestored}; restored containers are
 * registered by the container checkpoint backend itself.
 */
public final class WorkloadsByKind implements Workloads {
  private final Workloads processes;
  private final ContainerWorkloads containers;

  public WorkloadsByKind(Workloads processes, ContainerWorkloads containers) {
    this.processes = processes;
    this.containers = containers;
  }

  public ContainerWorkloads containers() {
    return containers;
  }

  @Override
  public Optional<Workload> find(String id) {
    return processes.find(id).or(() -> containers.find(id));
  }

  @Override
  public List<Workload> list() {
    List<Workload> all = new ArrayList<>(processes.list());
    all.addAll(containers.list());
    return all;
  }

  @Override
  public Future<Workload> launch(WorkloadSpec spec) {
    return WorkloadSpec.KIND_CONTAINER.equals(spec.kind()) ? containers.launch(spec) : processes.launch(spec);
  }

  @Override
  public Future<Workload> beginMigration(String id, String migrationId) {
    return isContainer(id) ? containers.beginMigration(id, migrationId) : processes.beginMigration(id, migrationId);
  }

  @Override
  public void endMigration(String id) {
    if (isContainer(id)) {
      containers.endMigration(id);
    } else {
      processes.endMigration(id);
    }
  }

  @Override
  public Future<OutputRelay> openRelay(String workloadName) {
    return processes.openRelay(workloadName);
  }

  @Override
  public Future<Workload> adoptRestored(WorkloadSpec spec, long pid, String migrationId, LogSink log) {
    if (WorkloadSpec.KIND_CONTAINER.equals(spec.kind())) {
      return Future.failedFuture(new UnsupportedOperationException(
          "containers are restored and registered by ContainerWorkloads.restore"));
    }
    return processes.adoptRestored(spec, pid, migrationId, log);
  }

  @Override
  public Future<Void> remove(String id) {
    return isContainer(id) ? containers.remove(id) : processes.remove(id);
  }

  @Override
  public Future<String> logs(String id) {
    return isContainer(id) ? containers.logs(id) : processes.logs(id);
  }

  private boolean isContainer(String id) {
    if (containers.find(id).isPresent()) {
      return true;
    }
    if (processes.find(id).isPresent()) {
      return false;
    }
    throw new NoSuchElementException("no workload " + id);
  }
}
