package io.ums.coordinator.migration;

import io.ums.coordinator.error.MigrationException;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * One migration as the API shows it: its events so far, its outcome. Lives on the coordinator's
 * event loop (no locking); subscribers get the past events first, then the new ones.
 */
public final class Migration {
  private final String id;
  private final MigrationRequest request;
  private final long startedAtMillis;
  private final List<JsonObject> events = new ArrayList<>();
  private final List<Handler<JsonObject>> subscribers = new ArrayList<>();
  private final Promise<JsonObject> outcome = Promise.promise();
  private String state = "ACCEPTED";
  private JsonObject result;
  private MigrationException failure;
  private long finishedAtMillis;
  private JsonObject sourceSettled;

  public Migration(String id, MigrationRequest request, long startedAtMillis) {
    this.id = id;
    this.request = request;
    this.startedAtMillis = startedAtMillis;
  }

  public String id() {
    return id;
  }

  public MigrationRequest request() {
    return request;
  }

  public long startedAtMillis() {
    return startedAtMillis;
  }

  public boolean finished() {
    return result != null || failure != null;
  }

  /** When it finished (0 while it runs). */
  public long finishedAtMillis() {
    return finishedAtMillis;
  }

  /** The 200 body of POST /migrate, or a MigrationException. */
  public Future<JsonObject> outcome() {
    return outcome.future();
  }

  public void emit(EventType type, JsonObject details) {
    if (finished()) {
      return;
    }
    long now = System.currentTimeMillis();
    JsonObject event =
        details.copy()
            .put("type", type.name())
            .put("migrationId", id)
            .put("at", now)
            .put("elapsedMs", now - startedAtMillis);
    state = type.name();
    // progress events come every 250 ms for as long as a phase lasts: subscribers get each, the record keeps
    // the latest of a run of them, so a migration's memory does not grow with its length
    int last = events.size() - 1;
    if (details.getBoolean("progress", false) && last >= 0 && events.get(last).getBoolean("progress", false)
        && type.name().equals(events.get(last).getString("type"))) {
      events.set(last, event);
    } else {
      events.add(event);
    }
    for (Handler<JsonObject> subscriber : List.copyOf(subscribers)) {
      subscriber.handle(event);
    }
  }

  void succeed(JsonObject body) {
    emit(EventType.DONE, new JsonObject().put("result", body));
    result = body;
    finishedAtMillis = System.currentTimeMillis();
    subscribers.clear();
    outcome.complete(body);
  }

  void fail(MigrationException cause) {
    emit(
        EventType.ROLLED_BACK,
        new JsonObject().put("reason", cause.getMessage()).put("error", cause.failure().name()));
    failure = cause;
    finishedAtMillis = System.currentTimeMillis();
    subscribers.clear();
    outcome.fail(cause);
  }

  /**
   * What became of the source copy a lost source agent held, once its restarted agent settled it (may come
   * after the migration finished).
   */
  void sourceSettled(JsonObject outcome) {
    sourceSettled = outcome;
  }

  /** Replays past events, then follows; returns false when the migration already ended (all replayed). */
  public boolean subscribe(Handler<JsonObject> subscriber) {
    events.forEach(subscriber::handle);
    if (finished()) {
      return false;
    }
    subscribers.add(subscriber);
    return true;
  }

  public void unsubscribe(Handler<JsonObject> subscriber) {
    subscribers.remove(subscriber);
  }

  public JsonObject toJson() {
    JsonObject json =
        new JsonObject()
            .put("migrationId", id)
            .put("state", state)
            .put("request", request.toJson())
            .put("startedAt", startedAtMillis)
            .put("events", new JsonArray(new ArrayList<>(events)));
    if (result != null) {
      json.put("result", result);
    }
    if (failure != null) {
      json.put("error", failure.toJson());
    }
    if (sourceSettled != null) {
      json.put("sourceSettled", sourceSettled);
    }
    return json;
  }
}
