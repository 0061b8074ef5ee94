package io.ums.bench.downtime;

import io.ums.bench.local.Cleanup;
import io.ums.bench.local.JsonHttp;
import io.ums.bench.local.NodeSweeper;
import io.ums.bench.local.UmsApi;
import io.ums.bench.local.UmsCluster;
import io.ums.bench.local.UmsJars;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Our path: the workload launched through the source agent's API, moved with the coordinator's
 * {@code POST /migrate}. The agents and the coordinator start once, on first use, from the built jars; if
 * they cannot start, every ums row fails with that reason and the baselines still run.
 */
public final class UmsMethod implements MigrationMethod {
  private final Path workDir;
  private final Path logDir;
  private final Cleanup cleanup;
  private UmsApi api;
  private RuntimeException startFailure;

  public UmsMethod(Path workDir, Path logDir, Cleanup cleanup) {
    this.workDir = workDir;
    this.logDir = logDir;
    this.cleanup = cleanup;
  }

  @Override
  public String name() {
    return "ums";
  }

  @Override
  public ResultRow run(Scenario scenario, BenchContext context) throws Exception {
    UmsApi ums = api(context);
    String name = "memservice-" + scenario.sizeMiB() + "-" + scenario.run();
    try {
      context.progress().phase("launching the workload through the agent");
      List<String> command = new ArrayList<>(List.of(context.memservice().toString(),
          String.valueOf(context.workloadPort())));
      command.addAll(scenario.workloadArgs());
      ums.launch(0, name, command);
      return ProcessTrial.measure(name(), scenario, context, () -> {
        context.progress().phase("POST /migrate");
        return UmsApi.overhead(ums.migrate(name, 1));
      });
    } finally {
      removeWorkloads(ums, context);
    }
  }

  private UmsApi api(BenchContext context) {
    if (startFailure != null) {
      throw startFailure;
    }
    if (api == null) {
      try {
        context.progress().phase("starting two agents and a coordinator");
        UmsCluster cluster = UmsCluster.start(context.testbed(), UmsJars.locate(), workDir, logDir, cleanup, context.http());
        api = new UmsApi(cluster, context.http());
      } catch (RuntimeException e) {
        startFailure = new IllegalStateException("UMS agents/coordinator did not start: " + e.getMessage(), e);
        throw startFailure;
      }
    }
    return api;
  }

  private static void removeWorkloads(UmsApi ums, BenchContext context) {
    for (int node = 0; node < 2; node++) {
      try {
        ums.removeAll(node);
      } catch (JsonHttp.HttpFailure e) {
        System.err.println("cleanup: " + e.getMessage());
      }
    }
    // whatever the agents did not remove (or left after a failed migration) must not disturb the next run
    NodeSweeper.kill(context.source().netns(), "memservice");
    NodeSweeper.kill(context.destination().netns(), "memservice");
    int locks = NodeSweeper.removeCriuLocks(context.source());
    if (locks > 0) {
      System.err.println("note: the ums migration left " + locks + " CRIU iptables lock rule(s) on "
          + context.source().name() + "; removed");
    }
  }
}
