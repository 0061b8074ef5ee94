package io.ums.bench.probe;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;

/**
 * A client of a memservice behind one address (a Kubernetes Service's cluster IP), run as its own process inside
 * the node's network namespace where kube-proxy routes that address: asks "c" every millisecond on a persistent
 * connection ({@link ProbeEndpoint}: 200 ms connect and 1 s answer deadlines, then a new connection) and records
 * every pause between two answers longer than {@link #GAP_MS} ms. Prints "tick EPOCH_MS ANSWERS" at most every
 * 100 ms while answers come, and when its standard input closes, "result {json}" with the answers and the gaps
 * (start and end on the wall clock, the counters on either side), then exits. Usage: ServiceProbe HOST PORT.
 */
public final class ServiceProbe {
  static final long GAP_MS = 50;
  private static final long TICK_MS = 100;

  private final JsonArray gaps = new JsonArray();
  private long answers;
  private DowntimeProbe.Answer previous;
  private long previousEpochMs;
  private long lastTickMs;
  private volatile boolean running = true;

  public static void main(String[] args) throws IOException {
    if (args.length != 2) {
      System.err.println("usage: ServiceProbe HOST PORT");
      System.exit(2);
    }
    new ServiceProbe().run(new InetSocketAddress(args[0], Integer.parseInt(args[1])), System.in);
  }

  private void run(InetSocketAddress address, InputStream stopWhenClosed) throws IOException {
    Selector selector = Selector.open();
    Thread stopper = new Thread(() -> {
      try {
        while (stopWhenClosed.read() >= 0) {
          // anything written means nothing; only the end of input stops the probe
        }
      } catch (IOException closed) {
        // the parent is gone: stop as well
      }
      running = false;
      selector.wakeup();
    }, "ums-service-probe-stop");
    stopper.setDaemon(true);
    stopper.start();
    ProbeEndpoint endpoint = new ProbeEndpoint(address, this::onAnswer);
    try {
      while (running) {
        endpoint.tick(System.nanoTime(), selector);
        selector.select(1);
        for (SelectionKey key : selector.selectedKeys()) {
          ((ProbeEndpoint) key.attachment()).onReady(key, System.nanoTime());
        }
        selector.selectedKeys().clear();
      }
    } finally {
      endpoint.close();
      selector.close();
    }
    System.out.println("result " + new JsonObject().put("answers", answers).put("gaps", gaps).encode());
    System.out.flush();
  }

  private void onAnswer(DowntimeProbe.Answer answer) {
    long epochMs = System.currentTimeMillis();
    answers++;
    if (previous != null) {
      double gapMs = (answer.atNanos() - previous.atNanos()) / 1e6;
      if (gapMs > GAP_MS) {
        gaps.add(new JsonObject().put("ms", gapMs).put("fromEpochMs", previousEpochMs).put("toEpochMs", epochMs)
            .put("counterBefore", previous.counter()).put("counterAfter", answer.counter()));
      }
    }
    previous = answer;
    previousEpochMs = epochMs;
    if (epochMs - lastTickMs >= TICK_MS) {
      lastTickMs = epochMs;
      System.out.println("tick " + epochMs + " " + answers);
      System.out.flush();
    }
  }
}
