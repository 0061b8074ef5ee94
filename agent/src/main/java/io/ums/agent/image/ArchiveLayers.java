package io.ums.agent.image;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * A tar archive of unknown length cut, as it streams past, into layers whose length is known before their first
 * byte goes out: each layer is a run of whole entries of the archive followed by two zero blocks (a tar archive of
 * its own), so unpacking the layers one over the other gives the archive's files. An entry of at least
 * {@link #LARGE_ENTRY} bytes (the checkpoint's pages) ends a layer and streams through as it arrives, its length
 * read from its header; the small entries before it wait in memory (at most {@link #MAX_PENDING} bytes, then they
 * become a layer of their own). What follows the archive's end marker ends the last layer. Why: the kubelet's
 * archive is sent while it is still being written, so its length is not known when its first bytes are imported
 * (a tar entry, and the OCI archive's layer blob with it, announces its length in its header).
 * Not thread-safe; the consumer sees the layers in order.
 */
final class ArchiveLayers {
  static final long LARGE_ENTRY = 1024 * 1024;
  static final int MAX_PENDING = 4 * 1024 * 1024;
  static final int END_BLOCKS = 1024;
  private static final int BLOCK = 512;
  private static final ByteBuffer ZEROS = ByteBuffer.allocate(END_BLOCKS).asReadOnlyBuffer();

  /** Where the layers go, in order: a layer's length, its bytes, its end. */
  interface Consumer {
    void startLayer(long length);

    void bytes(ByteBuffer bytes);

    void endLayer();
  }

  private final TarEntryScanner scanner;
  private final Consumer consumer;
  private byte[] pending = new byte[64 * 1024];
  private int pendingLength;
  /** Bytes of a large entry still to stream through before its layer ends. */
  private long streaming;
  private int layers;

  ArchiveLayers(TarEntryScanner scanner, Consumer consumer) {
    this.scanner = scanner;
    this.consumer = consumer;
  }

  /** The next bytes of the archive (the buffer's position is left as it was). */
  void accept(ByteBuffer chunk) {
    ByteBuffer in = chunk.duplicate();
    while (in.hasRemaining()) {
      if (streaming > 0) {
        ByteBuffer piece = take(in, streaming);
        int length = piece.remaining();
        scanner.accept(piece);
        consumer.bytes(piece);
        streaming -= length;
        if (streaming == 0) {
          endLayer();
        }
        continue;
      }
      long left = scanner.entryBytesLeft();
      ByteBuffer piece = take(in, left > 0 ? left : BLOCK - scanner.headerFill());
      scanner.accept(piece);
      keep(piece);
      if (left == 0 && scanner.headerFill() == 0 && scanner.entryBytesLeft() >= LARGE_ENTRY) {
        // a large entry's header: the layer is what waited, this header, the entry's data and padding
        streaming = scanner.entryBytesLeft();
        startLayer(pendingLength + streaming + END_BLOCKS);
      } else if (pendingLength >= MAX_PENDING && scanner.betweenEntries()) {
        startLayer(pendingLength + END_BLOCKS);
        endLayer();
      }
    }
  }

  /** The archive ended: what waits becomes the last layer. Returns how many layers there were. */
  int finish() {
    if (pendingLength > 0 || layers == 0) {
      startLayer(pendingLength + END_BLOCKS);
      endLayer();
    }
    return layers;
  }

  private void startLayer(long length) {
    consumer.startLayer(length);
    consumer.bytes(ByteBuffer.wrap(pending, 0, pendingLength));
    pendingLength = 0;
    if (pending.length > MAX_PENDING) {
      pending = new byte[64 * 1024]; // a layer of many small entries does not keep its buffer for the transfer
    }
  }

  private void endLayer() {
    consumer.bytes(ZEROS.duplicate());
    consumer.endLayer();
    layers++;
  }

  private void keep(ByteBuffer piece) {
    int length = piece.remaining();
    if (pendingLength + length > pending.length) {
      pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLength + length));
    }
    piece.duplicate().get(pending, pendingLength, length);
    pendingLength += length;
  }

  private static ByteBuffer take(ByteBuffer in, long most) {
    int n = (int) Math.min(most, in.remaining());
    ByteBuffer piece = in.slice();
    piece.limit(n);
    in.position(in.position() + n);
    return piece;
  }
}
