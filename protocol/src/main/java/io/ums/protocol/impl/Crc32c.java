package io.ums.protocol.impl;

import io.netty.buffer.ByteBuf;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/** CRC-32C over Buffers through NIO views of their bytes (no copy for one-piece buffers). */
public final class Crc32c {
  private Crc32c() {}

  public static int of(Buffer data) {
    CRC32C crc = new CRC32C();
    update(crc, data);
    return (int) crc.getValue();
  }

  public static void update(CRC32C crc, Buffer data) {
    ByteBuf bytes = ((BufferInternal) data).getByteBuf();
    if (bytes.nioBufferCount() == 1) {
      crc.update(bytes.nioBuffer());
    } else {
      for (ByteBuffer piece : bytes.nioBuffers()) {
        crc.update(piece);
      }
    }
  }
}
