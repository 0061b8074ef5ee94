package io.ums.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.AbstractByteBuf;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.lang.reflect.Field;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Netty's leak detector at its strictest, reporting to a list a test can assert on: every buffer is
 * tracked, and one collected without its last release is a leak. Netty reports a leak when it next
 * tracks a buffer after the garbage collector found the lost one, so {@link #assertNone} collects and
 * allocates before it looks.
 */
public final class ByteBufLeaks {
  private static final List<String> LEAKS = new CopyOnWriteArrayList<>();
  private static volatile boolean installed;

  private ByteBufLeaks() {
  }

  /** Starts tracking every buffer allocated from now on. */
  public static synchronized void track() {
    ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    if (installed) {
      return;
    }
    try {
      Field field = AbstractByteBuf.class.getDeclaredField("leakDetector");
      field.setAccessible(true);
      ((ResourceLeakDetector<?>) field.get(null)).setLeakListener((type, records) -> LEAKS.add(type + "\n" + records));
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("Netty's buffer leak detector is not where this Netty version keeps it", e);
    }
    installed = true;
  }

  /** Fails when a tracked buffer was lost without its release. */
  public static void assertNone() throws InterruptedException {
    for (int round = 0; round < 5; round++) {
      System.gc();
      Thread.sleep(50);
      for (int i = 0; i < 64; i++) {
        ByteBuf probe = PooledByteBufAllocator.DEFAULT.directBuffer(16);
        probe.release();
      }
    }
    assertThat(LEAKS).as("buffers lost without their release").isEmpty();
  }
}
