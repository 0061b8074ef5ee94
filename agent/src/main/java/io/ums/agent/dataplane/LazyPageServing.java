package io.ums.agent.dataplane;

import io.ums.agent.criu.CriuPageServer;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The source's page serving of a post-copy, whatever froze the workload ({@code criu dump --lazy-pages} of a
 * process tree, {@code runc checkpoint --lazy-pages} of a container): the commit, the relay between the
 * destination's request channel and the lazy page server CRIU opens on {@code host:port}, and the moment
 * the last page left. Lives on the event loop that created it.
 */
public final class LazyPageServing {
  private final Vertx vertx;
  private final String host;
  private final int port;
  private final long connectTimeoutMillis;
  private final Promise<Void> committed = Promise.promise();
  private final Promise<Void> lastPageDelivered = Promise.promise();
  private LazyPageServerRelay relay;
  private long lastPageNanos = -1;

  public LazyPageServing(Vertx vertx, String host, int port, long connectTimeoutMillis) {
    this.vertx = vertx;
    this.host = host;
    this.port = port;
    this.connectTimeoutMillis = connectTimeoutMillis;
  }

  /** A port free on {@code host} now when this agent can bind there; otherwise (another netns) a random one. */
  public static int pickPort(String host) {
    try {
      return CriuPageServer.freePort(host);
    } catch (IOException e) {
      return 20000 + ThreadLocalRandom.current().nextInt(20000);
    }
  }

  public int port() {
    return port;
  }

  /** From now on only a resume brings the frozen copy back: the destination may run. */
  public void commit() {
    committed.tryComplete();
  }

  public boolean committed() {
    return committed.future().succeeded();
  }

  /** Relays the destination's page requests to CRIU's lazy page server (the caller committed). */
  public Future<LazyPageServerRelay> serve(UmsConnection connection, IncomingChannel requests) {
    requests.pause();
    return LazyPageServerRelay.start(vertx, connection, requests, host, port, connectTimeoutMillis)
        .onSuccess(started -> {
          relay = started;
          started.lastPageDelivered()
              .onSuccess(ignored -> {
                lastPageNanos = System.nanoTime();
                lastPageDelivered.tryComplete();
              })
              .onFailure(lastPageDelivered::tryFail);
        })
        .onFailure(lastPageDelivered::tryFail);
  }

  /** Completes when the destination has every page; fails when the page stream broke first. */
  public Future<Void> lastPageDelivered() {
    return lastPageDelivered.future();
  }

  /** The post-copy broke: the relay stops and nothing waits for a last page any more. */
  public void abort(String why) {
    if (relay != null) {
      relay.abort(why);
    }
    committed.tryFail(why);
    lastPageDelivered.tryFail(why);
  }

  public long bytesServed() {
    return relay == null ? 0 : relay.bytesServed();
  }

  public long requestsServed() {
    return relay == null ? 0 : relay.requestsServed();
  }

  /** When the last page left, or -1. */
  public long lastPageNanos() {
    return lastPageNanos;
  }
}
