package io.ums.coordinator.testing;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A stand-in for the UMS agent's control API (agent-api.md), used ONLY by the coordinator's
 * logic unit tests (state machine, HTTP mapping, Kubernetes steps). It moves no bytes and runs no
 * CRIU: a "migration" walks through the contract's phases on timers and, when it succeeds, hands
 * the workload to the destination fake registered under the data address. The end-to-end test
 * (CoordinatorEndToEndTest) drives real agents instead.
 */
public final class FakeAgent {
  /** What the next /v1/send does. */
  public enum Script {
    SUCCEED, ROLL_BACK, HANG_IN_TRANSFER, WAIT_FOR_RELEASE,
    /** The agent restarts right after the destination restored: it no longer knows the migration. */
    RESTART_AFTER_RESTORE,
    /** The agent restarts mid-transfer: it forgets the migration, the workload runs on where it was. */
    RESTART_IN_TRANSFER
  }

  private static final Map<String, FakeAgent> BY_DATA_ADDRESS = new ConcurrentHashMap<>();

  private final Vertx vertx;
  private final String node;
  private final String arch;
  private final Map<String, JsonObject> workloads = new ConcurrentHashMap<>();
  private final Map<String, JsonObject> migrations = new ConcurrentHashMap<>();
  private final Map<String, JsonObject> sessions = new ConcurrentHashMap<>();
  private final List<String> aborted = new CopyOnWriteArrayList<>();
  private final List<Runnable> waiting = new CopyOnWriteArrayList<>();
  private volatile Script script = Script.SUCCEED;
  private volatile boolean released;
  private volatile String rollBackMessage = "criu restore failed on the destination: exit code 1";
  private volatile boolean kubeletConfigured = true;
  private final List<String> kubeletCheckpoints = new CopyOnWriteArrayList<>();
  private final List<String> retiredImages = new CopyOnWriteArrayList<>();
  private final List<String> discardedImages = new CopyOnWriteArrayList<>();
  private final List<String> failingContainers = new CopyOnWriteArrayList<>();
  private HttpServer server;
  private String dataAddress;

  private FakeAgent(Vertx vertx, String node, String arch) {
    this.vertx = vertx;
    this.node = node;
    this.arch = arch;
  }

  public static FakeAgent start(Vertx vertx, String node) {
    return start(vertx, node, "x86_64");
  }

  public static FakeAgent start(Vertx vertx, String node, String arch) {
    FakeAgent agent = new FakeAgent(vertx, node, arch);
    Router router = Router.router(vertx);
    router.route().handler(BodyHandler.create());
    router.get("/health").handler(ctx -> ctx.json(new JsonObject().put("status", "UP")));
    router.get("/v1/info").handler(agent::info);
    router.get("/v1/workloads").handler(ctx -> ctx.json(new JsonArray(new ArrayList<>(agent.workloads.values()))));
    router.get("/v1/workloads/:id").handler(ctx -> {
      JsonObject workload = agent.workloads.get(ctx.pathParam("id"));
      if (workload == null) {
        error(ctx, 404, "NOT_FOUND", "no workload " + ctx.pathParam("id"));
      } else {
        ctx.json(workload);
      }
    });
    router.post("/v1/receive").handler(agent::receive);
    router.post("/v1/send").handler(agent::send);
    router.get("/v1/migrations/:id").handler(agent::status);
    router.post("/v1/migrations/:id/abort").handler(agent::abort);
    router.post("/v1/checkpoint-images/retire").handler(ctx -> {
      String image = ctx.body().asJsonObject().getString("image");
      agent.retiredImages.add(image);
      ctx.json(new JsonObject().put("image", image).put("startsFrom", "sha256:base").put("removed", new JsonArray()));
    });
    router.post("/v1/checkpoint-images/discard").handler(ctx -> {
      String image = ctx.body().asJsonObject().getString("image");
      agent.discardedImages.add(image);
      ctx.json(new JsonObject().put("image", image).put("removed", new JsonArray().add(image)));
    });
    agent.server = vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1").await();
    agent.dataAddress = "127.0.0.1:" + (40000 + agent.server.actualPort() % 20000);
    BY_DATA_ADDRESS.put(agent.dataAddress, agent);
    return agent;
  }

  public String url() {
    return "http://127.0.0.1:" + server.actualPort();
  }

  public int port() {
    return server.actualPort();
  }

  public String node() {
    return node;
  }

  public JsonObject addWorkload(String name) {
    JsonObject workload = workload(UUID.randomUUID().toString(), name, null);
    workloads.put(workload.getString("id"), workload);
    return workload;
  }

  /** As if a migration of it were running on this agent (started by some other coordinator). */
  public void markMigrating(String name) {
    workloads.values().stream().filter(w -> name.equals(w.getString("name"))).forEach(w -> w.put("status", "MIGRATING"));
  }

  /** As if this agent had forgotten it migrates it: only the coordinator's own lock is left to refuse. */
  public void markRunning(String name) {
    workloads.values().stream().filter(w -> name.equals(w.getString("name"))).forEach(w -> w.put("status", "RUNNING"));
  }

  public String workloadId(String name) {
    return workloads.values().stream().filter(w -> name.equals(w.getString("name"))).findFirst().orElseThrow()
        .getString("id");
  }

  /** As if a migration of it had finished elsewhere: the agent no longer runs it. */
  public void removeWorkload(String name) {
    workloads.values().removeIf(w -> name.equals(w.getString("name")));
  }

  public List<String> workloadNames() {
    return workloads.values().stream().map(w -> w.getString("name")).toList();
  }

  public List<String> abortedIds() {
    return List.copyOf(aborted);
  }

  public Map<String, JsonObject> sessions() {
    return Map.copyOf(sessions);
  }

  public void script(Script next) {
    this.script = next;
    this.released = false;
  }

  /** Whether /v1/info reports a kubelet (--kubelet-url) for interface kubelet. */
  public void kubeletConfigured(boolean configured) {
    this.kubeletConfigured = configured;
  }

  /** The checkpoint images this agent was told to retire (their pods run), in order. */
  public List<String> retiredImages() {
    return List.copyOf(retiredImages);
  }

  /** The checkpoint images this agent was told to remove (no pod starts from them), in order. */
  public List<String> discardedImages() {
    return List.copyOf(discardedImages);
  }

  /** The kubelet checkpoints this agent was asked for, as "namespace/pod/container", in order. */
  public List<String> kubeletCheckpoints() {
    return List.copyOf(kubeletCheckpoints);
  }

  /** The kubelet refuses to checkpoint this container (as for a feature gate that is off): the send FAILs. */
  public void kubeletFailsFor(String container) {
    failingContainers.add(container);
  }

  /** The image name the destination agent reports for a container's checkpoint (agent-api.md). */
  public static String checkpointImage(String pod, String container) {
    return "localhost/ums-checkpoint/" + pod + "-" + container + ":fake";
  }

  public void rollBackMessage(String message) {
    this.rollBackMessage = message;
  }

  /** Lets migrations scripted WAIT_FOR_RELEASE finish. */
  public void release() {
    released = true;
    vertx.runOnContext(v -> {
      List<Runnable> all = List.copyOf(waiting);
      waiting.clear();
      all.forEach(Runnable::run);
    });
  }

  public void close() {
    BY_DATA_ADDRESS.remove(dataAddress);
    server.close().await();
  }

  private JsonObject workload(String id, String name, String restoredFrom) {
    return new JsonObject().put("id", id).put("name", name).put("kind", "process").put("runtime", (String) null)
        .put("pid", 4242).put("status", "RUNNING").put("migratable", true).put("node", node)
        .put("createdAt", System.currentTimeMillis()).put("restoredFrom", restoredFrom);
  }

  private void info(RoutingContext ctx) {
    ctx.json(new JsonObject().put("node", node).put("arch", arch).put("kernel", "6.18.0")
        .put("criu", new JsonObject().put("version", "4.2.1").put("ok", true).put("lazyPages", true)
            .put("dirtyTracking", false))
        .put("dataAddress", dataAddress)
        .put("runtimes", kubeletConfigured ? new JsonArray().add("process").add("kubelet") : new JsonArray().add("process"))
        .put("kubelet", new JsonObject().put("configured", kubeletConfigured)
            .put("url", kubeletConfigured ? "https://127.0.0.1:10250" : null))
        .put("checkpointImages", "containers-storage"));
  }

  private void receive(RoutingContext ctx) {
    JsonObject body = ctx.body().asJsonObject();
    String kind = body.getString("kind", "process");
    if (!kind.equals("process") && !kind.equals("container") && !kind.equals("checkpoint")) {
      error(ctx, 400, "BAD_REQUEST", "kind: must be process, container or checkpoint");
      return;
    }
    String sessionId = UUID.randomUUID().toString();
    sessions.put(sessionId, body.copy().put("state", "OPEN"));
    ctx.response().setStatusCode(201);
    ctx.json(new JsonObject().put("sessionId", sessionId).put("dataAddress", dataAddress)
        .put("token", "dG9rZW4=").put("expiresAt", System.currentTimeMillis() + 60_000));
  }

  private void send(RoutingContext ctx) {
    JsonObject body = ctx.body().asJsonObject();
    JsonObject destination = body.getJsonObject("destination");
    if (destination == null || destination.getString("address") == null || destination.getString("token") == null) {
      error(ctx, 400, "BAD_REQUEST", "destination: address, sessionId and token are required");
      return;
    }
    if (body.getJsonObject("kubelet") != null) {
      sendKubelet(ctx, body.getJsonObject("kubelet"), destination);
      return;
    }
    JsonObject workload = workloads.get(body.getString("workloadId", ""));
    if (workload == null) {
      error(ctx, 404, "UNKNOWN_WORKLOAD", "no workload " + body.getString("workloadId"));
      return;
    }
    if ("MIGRATING".equals(workload.getString("status"))) {
      error(ctx, 409, "ALREADY_MIGRATING", "workload is already migrating");
      return;
    }
    String id = UUID.randomUUID().toString();
    JsonObject status = new JsonObject().put("id", id).put("role", "source").put("workloadId", workload.getString("id"))
        .put("phase", "PREPARING").putNull("error")
        .put("bytes", new JsonObject().put("raw", 0L).put("wire", 0L))
        .put("timings", new JsonObject());
    migrations.put(id, status);
    workload.put("status", "MIGRATING");
    ctx.response().setStatusCode(202);
    ctx.json(new JsonObject().put("migrationId", id));
    Script current = script;
    boolean keep = body.getBoolean("keep", false);
    step(20, () -> status.put("phase", "CHECKPOINTING"));
    step(40, () -> status.put("phase", "TRANSFERRING").getJsonObject("bytes").put("raw", 1L << 20).put("wire", 1L << 20));
    switch (current) {
      case HANG_IN_TRANSFER -> { }
      case ROLL_BACK -> step(60, () -> {
        status.put("phase", "ROLLED_BACK")
            .put("error", new JsonObject().put("code", "RESTORE_FAILED").put("message", rollBackMessage));
        workload.put("status", "RUNNING");
      });
      case WAIT_FOR_RELEASE -> step(60, () -> {
        Runnable finishing = () -> finish(status, workload, destination, keep);
        if (released) {
          finishing.run();
        } else {
          waiting.add(finishing);
        }
      });
      case SUCCEED -> step(60, () -> finish(status, workload, destination, keep));
      case RESTART_AFTER_RESTORE -> step(60, () -> {
        status.put("phase", "RESTORING");
        step(20, () -> {
          FakeAgent target = BY_DATA_ADDRESS.get(destination.getString("address"));
          target.restore(destination.getString("sessionId"), workload.getString("name"), id);
          workloads.remove(workload.getString("id"));
          migrations.remove(id); // in the same turn: no poll can see DONE
        });
      });
      case RESTART_IN_TRANSFER -> step(60, () -> {
        migrations.remove(id);
        workload.put("status", "RUNNING");
      });
    }
  }

  private void finish(JsonObject status, JsonObject workload, JsonObject destination, boolean keep) {
    if (!"TRANSFERRING".equals(status.getString("phase"))) {
      return; // aborted meanwhile
    }
    status.put("phase", "RESTORING");
    step(20, () -> {
      FakeAgent target = BY_DATA_ADDRESS.get(destination.getString("address"));
      String restoredId = target == null ? null : target.restore(destination.getString("sessionId"),
          workload.getString("name"), status.getString("id"));
      status.put("phase", "DONE").put("destinationWorkloadId", restoredId)
          .put("bytes", new JsonObject().put("raw", 64L << 20).put("wire", 64L << 20).put("pages", 16384))
          .put("timings", new JsonObject().put("freezeMs", 2).put("dumpMs", 30).put("transferMs", 40)
              .put("restoreMs", 25).put("totalMs", 100).put("downtimeMs", 95));
      if (keep) {
        workload.put("status", "RUNNING");
      } else {
        workloads.remove(workload.getString("id"));
      }
    });
  }

  /**
   * Orchestrator level (agent-api.md "interface kubelet"): as if the kubelet checkpointed the
   * container (it keeps running) and the destination built a checkpoint image from the archive.
   */
  private void sendKubelet(RoutingContext ctx, JsonObject kubelet, JsonObject destination) {
    if (!kubeletConfigured) {
      error(ctx, 503, "UNAVAILABLE", "no kubelet configured (--kubelet-url)");
      return;
    }
    String pod = kubelet.getString("pod");
    String container = kubelet.getString("container");
    kubeletCheckpoints.add(kubelet.getString("namespace") + "/" + pod + "/" + container);
    String id = UUID.randomUUID().toString();
    JsonObject status = new JsonObject().put("id", id).put("role", "source").putNull("workloadId")
        .put("phase", "PREPARING").putNull("error")
        .put("bytes", new JsonObject().put("raw", 0L).put("wire", 0L))
        .put("timings", new JsonObject());
    migrations.put(id, status);
    ctx.response().setStatusCode(202);
    ctx.json(new JsonObject().put("migrationId", id));
    Script current = failingContainers.contains(container) ? Script.ROLL_BACK : script;
    step(20, () -> status.put("phase", "CHECKPOINTING"));
    step(40, () -> status.put("phase", "TRANSFERRING").getJsonObject("bytes").put("raw", 8L << 20).put("wire", 8L << 20));
    Runnable finishing = () -> {
      if (!"TRANSFERRING".equals(status.getString("phase"))) {
        return; // aborted meanwhile
      }
      status.put("phase", "RESTORING");
      step(20, () -> {
        FakeAgent target = BY_DATA_ADDRESS.get(destination.getString("address"));
        JsonObject session = target == null ? null : target.sessions.get(destination.getString("sessionId"));
        if (session == null) {
          status.put("phase", "FAILED").put("error", new JsonObject().put("code", "PEER_FAILED")
              .put("message", "destination session " + destination.getString("sessionId") + " is gone"));
          return;
        }
        String image = checkpointImage(pod, container);
        session.put("state", "RESTORED").put("checkpointImage", image);
        status.put("phase", "DONE").put("checkpointImage", image)
            .put("bytes", new JsonObject().put("raw", 32L << 20).put("wire", 32L << 20).put("images", 32L << 20))
            .put("timings", new JsonObject().put("freezeMs", 150).put("dumpMs", 150).put("transferMs", 40)
                .put("restoreMs", 300).put("totalMs", 500).put("downtimeMs", 0));
      });
    };
    switch (current) {
      case HANG_IN_TRANSFER -> { }
      case ROLL_BACK -> step(60, () -> status.put("phase", "FAILED").put("error", new JsonObject()
          .put("code", "KUBELET_CHECKPOINT_FAILED")
          .put("message", "kubelet answered 404 for POST /checkpoint/" + kubelet.getString("namespace") + "/" + pod
              + "/" + container + ": feature gate ContainerCheckpoint off?")));
      case WAIT_FOR_RELEASE -> step(60, () -> {
        if (released) {
          finishing.run();
        } else {
          waiting.add(finishing);
        }
      });
      case SUCCEED -> step(60, finishing);
    }
  }

  private String restore(String sessionId, String name, String migrationId) {
    JsonObject session = sessions.get(sessionId);
    if (session == null) {
      return null;
    }
    session.put("state", "RESTORED");
    JsonObject restored = workload(UUID.randomUUID().toString(), name, migrationId);
    workloads.put(restored.getString("id"), restored);
    return restored.getString("id");
  }

  private void step(long delayMs, Runnable action) {
    vertx.setTimer(delayMs, t -> action.run());
  }

  private void status(RoutingContext ctx) {
    JsonObject session = sessions.get(ctx.pathParam("id"));
    if (session != null) {
      String phase = switch (session.getString("state")) {
        case "RESTORED" -> "DONE";
        case "ABORTED" -> "ROLLED_BACK";
        default -> "PREPARING";
      };
      ctx.json(new JsonObject().put("id", ctx.pathParam("id")).put("role", "destination").put("phase", phase)
          .put("checkpointImage", session.getString("checkpointImage")));
      return;
    }
    JsonObject status = migrations.get(ctx.pathParam("id"));
    if (status == null) {
      error(ctx, 404, "NOT_FOUND", "no migration " + ctx.pathParam("id"));
      return;
    }
    ctx.json(status);
  }

  private void abort(RoutingContext ctx) {
    String id = ctx.pathParam("id");
    aborted.add(id);
    JsonObject session = sessions.get(id);
    if (session != null && session.getString("checkpointImage") != null) {
      // ended with its image imported: as the agent, the abort changes nothing and answers the final status
      ctx.response().setStatusCode(202);
      ctx.json(new JsonObject().put("id", id).put("role", "destination").put("phase", "DONE")
          .put("checkpointImage", session.getString("checkpointImage")));
      return;
    }
    if (session != null) {
      session.put("state", "ABORTED");
      ctx.response().setStatusCode(202);
      ctx.json(new JsonObject().put("id", id).put("role", "destination").put("phase", "ROLLED_BACK"));
      return;
    }
    JsonObject status = migrations.get(id);
    if (status == null) {
      error(ctx, 404, "NOT_FOUND", "no migration " + id);
      return;
    }
    status.put("phase", "ROLLED_BACK").put("error", new JsonObject().put("code", "ABORTED").put("message", "aborted"));
    JsonObject workload = workloads.get(status.getString("workloadId"));
    if (workload != null) {
      workload.put("status", "RUNNING");
    }
    ctx.response().setStatusCode(202);
    ctx.json(status);
  }

  private static void error(RoutingContext ctx, int status, String code, String message) {
    ctx.response().setStatusCode(status);
    ctx.json(new JsonObject().put("error", code).put("message", message));
  }
}
