package io.ums.protocol.impl;

import io.netty.buffer.ByteBuf;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * CRC-32C over Buffers through NIO views of their bytes (no copy for one-piece buffers), and
 * {@link #combine} so a channel's CRC follows from its frames' CRCs without a second pass.
 */
public final class Crc32c {
  private static final int POLY = 0x82F63B78; // Castagnoli, reflected
  /** X2N[n] = x^(2^n) mod P, as in zlib's crc32_combine. */
  private static final int[] X2N = new int[32];

  static {
    int power = 1 << 30; // x^1
    X2N[0] = power;
    for (int n = 1; n < 32; n++) {
      power = multiplyModP(power, power);
      X2N[n] = power;
    }
  }

  private Crc32c() {}

  /** CRC-32C of A followed by B, from crc(A), crc(B) and the length of B. */
  public static int combine(int crcA, int crcB, long lengthB) {
    return multiplyModP(xToThe8nModP(lengthB), crcA) ^ crcB;
  }

  private static int multiplyModP(int a, int b) {
    int mask = 1 << 31;
    int product = 0;
    while (true) {
      if ((a & mask) != 0) {
        product ^= b;
        if ((a & (mask - 1)) == 0) {
          return product;
        }
      }
      mask >>>= 1;
      b = (b & 1) != 0 ? (b >>> 1) ^ POLY : b >>> 1;
    }
  }

  /** x^(8n) mod P: the shift of a CRC over n more bytes. */
  private static int xToThe8nModP(long n) {
    int power = 1 << 31; // x^0
    int k = 3;
    while (n != 0) {
      if ((n & 1) != 0) {
        power = multiplyModP(X2N[k & 31], power);
      }
      n >>>= 1;
      k++;
    }
    return power;
  }

  public static int of(Buffer data) {
    return of(((BufferInternal) data).getByteBuf());
  }

  public static int of(ByteBuf data) {
    CRC32C crc = new CRC32C();
    update(crc, data);
    return (int) crc.getValue();
  }

  public static void update(CRC32C crc, Buffer data) {
    update(crc, ((BufferInternal) data).getByteBuf());
  }

  public static void update(CRC32C crc, ByteBuf bytes) {
    if (bytes.nioBufferCount() == 1) {
      crc.update(bytes.nioBuffer());
    } else {
      for (ByteBuffer piece : bytes.nioBuffers()) {
        crc.update(piece);
      }
    }
  }
}
