package io.ums.coordinator;

import io.ums.coordinator.testing.FakeAgent;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * What the coordinator tests on two {@link FakeAgent}s share: a Vert.x instance with agents node-a and
 * node-b, started before each test, and after it the coordinator the test started (if any), the agents and
 * Vert.x closed in that order.
 */
abstract class FakeAgentPairTest {
  protected Vertx vertx;
  protected FakeAgent nodeA;
  protected FakeAgent nodeB;
  /** Started by the test (or its own set-up) with the settings it checks. */
  protected Coordinator coordinator;

  @BeforeEach
  void startAgents() {
    vertx = Vertx.vertx();
    nodeA = FakeAgent.start(vertx, "node-a");
    nodeB = FakeAgent.start(vertx, "node-b");
  }

  @AfterEach
  void closeAll() {
    if (coordinator != null) {
      coordinator.close().await();
    }
    nodeA.close();
    nodeB.close();
    vertx.close().await();
  }
}
