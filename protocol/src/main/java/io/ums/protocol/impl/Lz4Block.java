package io.ums.protocol.impl;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsProtocolException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.impl.buffer.VertxByteBufAllocator;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.ByteBuffer;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

/**
 * LZ4 block compression of DATA payloads (lz4-java, JNI when available). Compression goes into a
 * reusable off-heap scratch buffer and is kept only when it saves space; after a block that did not
 * shrink, the next blocks skip compression for a while (doubling up to {@link #MAX_SKIP}), so random
 * data costs little CPU. One instance per outgoing channel: it is not thread-safe.
 */
public final class Lz4Block {
  static final String CODEC = "lz4";
  private static final LZ4Factory FACTORY = LZ4Factory.fastestInstance();
  private static final LZ4Compressor COMPRESSOR = FACTORY.fastCompressor();
  private static final LZ4SafeDecompressor DECOMPRESSOR = FACTORY.safeDecompressor();
  private static final int MAX_SKIP = 64;

  private ByteBuffer scratch = ByteBuffer.allocateDirect(0);
  private int skipRemaining;
  private int skipPenalty;

  /** The compressed block, or null when this block goes raw. */
  public Buffer compressOrNull(Buffer raw) {
    if (skipRemaining > 0) {
      skipRemaining--;
      return null;
    }
    int length = raw.length();
    int bound = COMPRESSOR.maxCompressedLength(length);
    if (scratch.capacity() < bound) {
      scratch = ByteBuffer.allocateDirect(bound);
    }
    ByteBuffer source = ((BufferInternal) raw).getByteBuf().nioBuffer();
    int compressedLength = COMPRESSOR.compress(source, source.position(), length, scratch, 0, bound);
    // require a real saving: below 1/16 it is not worth the receiver's decompression
    if (compressedLength >= length - (length >>> 4)) {
      skipPenalty = Math.min(MAX_SKIP, Math.max(1, skipPenalty * 2));
      skipRemaining = skipPenalty;
      return null;
    }
    skipPenalty = 0;
    ByteBuf compressed = Unpooled.buffer(compressedLength);
    compressed.writeBytes(scratch.duplicate().position(0).limit(compressedLength));
    return BufferInternal.buffer(compressed);
  }

  /** Decompresses an untrusted block that must yield exactly {@code uncompressedLength} bytes. */
  public static Buffer decompress(Buffer block, int uncompressedLength) {
    ByteBuf output = VertxByteBufAllocator.DEFAULT.heapBuffer(uncompressedLength);
    ByteBuffer source = ((BufferInternal) block).getByteBuf().nioBuffer();
    int produced;
    try {
      produced = DECOMPRESSOR.decompress(source, source.position(), source.remaining(),
          output.internalNioBuffer(0, uncompressedLength), 0, uncompressedLength);
    } catch (LZ4Exception e) {
      throw new UmsProtocolException(ProtocolError.COMPRESSION_ERROR, "corrupt LZ4 block: " + e.getMessage());
    }
    if (produced != uncompressedLength) {
      throw new UmsProtocolException(ProtocolError.COMPRESSION_ERROR,
          "LZ4 block yields " + produced + " bytes, frame announced " + uncompressedLength);
    }
    output.writerIndex(uncompressedLength);
    return BufferInternal.buffer(output);
  }
}
