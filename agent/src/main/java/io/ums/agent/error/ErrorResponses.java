package io.ums.agent.error;

import io.ums.agent.workload.InvalidWorkloadSpecException;
import io.ums.agent.workload.WorkloadBusyException;
import io.ums.agent.workload.WorkloadStateException;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.NoSuchElementException;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The one place where failures become HTTP statuses and error bodies. Never a stack trace in a response. */
public final class ErrorResponses {
  private static final Logger LOG = LoggerFactory.getLogger(ErrorResponses.class);

  private ErrorResponses() {}

  public static AgentException classify(Throwable failure) {
    if (failure instanceof AgentException known) {
      return known;
    }
    if (failure instanceof InvalidWorkloadSpecException || failure instanceof DecodeException) {
      return new AgentException(ApiError.BAD_REQUEST, failure.getMessage());
    }
    if (failure instanceof NoSuchElementException) {
      return new AgentException(ApiError.NOT_FOUND, failure.getMessage());
    }
    if (failure instanceof WorkloadBusyException || failure instanceof WorkloadStateException) {
      return new AgentException(ApiError.CONFLICT, failure.getMessage());
    }
    if (failure instanceof TimeoutException || failure instanceof io.netty.handler.timeout.TimeoutException) {
      return new AgentException(ApiError.TIMEOUT, String.valueOf(failure.getMessage()));
    }
    return new AgentException(ApiError.INTERNAL, "internal error: " + failure);
  }

  public static void send(RoutingContext context, Throwable failure) {
    AgentException error = classify(failure);
    if (error.error() == ApiError.INTERNAL) {
      LOG.error("{} {} failed", context.request().method(), context.request().path(), failure);
    } else {
      LOG.info("{} {} -> {} {}: {}", context.request().method(), context.request().path(), error.error().status(),
          error.error(), error.getMessage());
    }
    HttpServerResponse response = context.response();
    if (response.headWritten()) {
      response.reset();
      return;
    }
    response.setStatusCode(error.error().status())
        .putHeader("content-type", "application/json")
        .end(new JsonObject().put("error", error.error().name()).put("message", error.getMessage()).encode());
  }
}
