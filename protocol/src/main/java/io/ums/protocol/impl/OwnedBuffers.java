package io.ums.protocol.impl;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.buffer.impl.BufferImpl;
import io.vertx.core.internal.buffer.BufferInternal;

/**
 * The one place that handles received DATA payloads as what they are: slices of the pooled buffers the
 * socket read into, each holding a reference. {@link BufferInternal#getByteBuf()} hides that reference
 * (it hands out an unreleasable view), so releasing goes through the buffer itself.
 */
final class OwnedBuffers {
  private OwnedBuffers() {
  }

  /** The Netty buffer behind {@code buffer}, with the reference the buffer holds. */
  static ByteBuf unwrap(Buffer buffer) {
    return buffer instanceof BufferImpl impl ? impl.byteBuf() : ((BufferInternal) buffer).getByteBuf();
  }

  /** Gives back the reference a received payload holds (a heap buffer's release does nothing). */
  static void release(Buffer buffer) {
    ByteBuf bytes = unwrap(buffer);
    if (bytes.refCnt() > 0) {
      bytes.release();
    }
  }

  /**
   * The payload as an application may keep it: a buffer the garbage collector owns (decompressed, or a
   * Vert.x heap buffer) is handed on as it is; one holding pooled or direct memory is copied to the heap
   * and released, which is what Vert.x does with every socket read.
   */
  static Buffer forApplication(Buffer payload) {
    ByteBuf bytes = unwrap(payload);
    if (collectable(bytes)) {
      return payload;
    }
    Buffer copy = Buffer.buffer(ByteBufUtil.getBytes(bytes));
    bytes.release();
    return copy;
  }

  private static boolean collectable(ByteBuf bytes) {
    ByteBuf root = bytes;
    while (root.unwrap() != null) {
      root = root.unwrap();
    }
    return root instanceof UnpooledHeapByteBuf;
  }
}
