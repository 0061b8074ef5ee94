package io.ums.protocol;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Creates Vert.x instances that prefer the native epoll transport, saying so when it is missing. */
public final class UmsVertx {
  private static final Logger LOG = LoggerFactory.getLogger(UmsVertx.class);

  private UmsVertx() {}

  public static Vertx create() {
    return create(new VertxOptions());
  }

  public static Vertx create(VertxOptions options) {
    Vertx vertx = Vertx.vertx(options.setPreferNativeTransport(true));
    if (!vertx.isNativeTransportEnabled()) {
      Throwable cause = vertx.unavailableNativeTransportCause();
      LOG.warn("native epoll transport unavailable, using NIO: {}", cause == null ? "unknown reason" : cause.toString());
    }
    return vertx;
  }
}
