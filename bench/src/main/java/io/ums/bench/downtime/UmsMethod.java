package io.ums.bench.downtime;

import io.ums.bench.local.JsonHttp;
import io.ums.bench.local.MemServiceImage;
import io.ums.bench.local.NodeSweeper;
import io.ums.bench.local.UmsApi;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Our path: the workload launched through the source agent's API, moved with the coordinator's
 * {@code POST /migrate}; as a plain process ({@code ums}; {@code ums-postcopy} with mode post-copy, its total
 * time then ends with the last page) or inside a runc container from the busybox + memservice image
 * ({@code ums-runc}, interface runc). Both share the {@link UmsNodes}; if those cannot
 * start, every ums row fails with that reason and the baselines still run.
 */
public final class UmsMethod implements MigrationMethod {
  /** What is moved: the memservice as a process, or the same memservice in a runc container. */
  public enum Kind {
    PROCESS("ums"),
    POST_COPY("ums-postcopy"),
    RUNC("ums-runc");

    private final String methodName;

    Kind(String methodName) {
      this.methodName = methodName;
    }
  }

  private final UmsNodes nodes;
  private final Kind kind;
  private boolean imageImported;

  UmsMethod(UmsNodes nodes, Kind kind) {
    this.nodes = nodes;
    this.kind = kind;
  }

  @Override
  public String name() {
    return kind.methodName;
  }

  @Override
  public ResultRow run(Scenario scenario, BenchContext context) throws Exception {
    UmsApi ums = nodes.api(context);
    String name = "memservice-" + scenario.sizeMiB() + "-" + scenario.run();
    try {
      context.progress().phase("launching the workload through the agent");
      if (kind != Kind.RUNC) {
        ums.launch(0, name, memserviceCommand(context.memservice().toString(), scenario, context));
        String mode = kind == Kind.POST_COPY ? "post-copy" : "stop-and-copy";
        AgentMemory agents = new AgentMemory(ums.cluster().agentPids());
        ResultRow row = ProcessTrial.measure(name(), scenario, context, () -> {
          context.progress().phase("POST /migrate mode " + mode);
          agents.resetPeaks();
          JsonObject answer = ums.migrate(name, 1, Optional.empty(), mode);
          agents.readPeaks();
          if (kind == Kind.POST_COPY) {
            JsonObject postCopy = answer.getJsonObject("postCopy", new JsonObject());
            System.err.printf("%s %s: mode %s, postCopyMs %d, pages on demand %d, pushed %d%n", name(), scenario,
                answer.getString("mode"), answer.getLong("postCopyMs", -1L), postCopy.getLong("pagesOnDemand", -1L),
                postCopy.getLong("pagesPushed", -1L));
          }
          return UmsApi.overhead(answer);
        });
        row = row.withMeasures(agents.peaks());
        return kind == Kind.POST_COPY ? ProcessTrial.untilTheLastPage(row) : row;
      }
      if (!imageImported) {
        context.progress().phase("importing the busybox + memservice image on node A");
        MemServiceImage.importOn(ums, 0, context.diskScratch().resolve("images"));
        imageImported = true;
      }
      ums.launchRuncContainer(0, name, MemServiceImage.NAME,
          memserviceCommand(MemServiceImage.BINARY, scenario, context));
      return ProcessTrial.measure(name(), scenario, context, () -> {
        context.progress().phase("POST /migrate interface runc");
        JsonObject answer = ums.migrate(name, 1, Optional.of("runc"));
        JsonObject bytes = answer.getJsonObject("bytes", new JsonObject());
        // the layers node B lacked; from the second run on it holds them all, so this shows the dedup
        System.err.printf("%s %s: layerBytesSent %d, layerBytesSkipped %d%n", name(), scenario,
            bytes.getLong("layerBytesSent", 0L), bytes.getLong("layerBytesSkipped", 0L));
        return UmsApi.overhead(answer);
      });
    } finally {
      removeWorkloads(ums, context);
    }
  }

  private static List<String> memserviceCommand(String binary, Scenario scenario, BenchContext context) {
    List<String> command = new ArrayList<>(List.of(binary, String.valueOf(context.workloadPort())));
    command.addAll(scenario.workloadArgs());
    return command;
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
