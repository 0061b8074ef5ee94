package io.ums.agent.dataplane;

import io.vertx.core.buffer.Buffer;

/**
 * Reads the request stream a {@code criu lazy-pages} daemon sends its page server: fixed 32-byte
 * {@code page_server_iov} records (u32 cmd, 4 bytes of padding, u64 nr_pages, u64 vaddr, u64 dst_id;
 * x86-64 little-endian, as criu/page-xfer.c lays the struct out), fed in
 * buffers split anywhere. The daemon sends PS_IOV_GET for pages and, only once every page of every task
 * is in place, PS_IOV_CLOSE: seeing that record is how both agents know post-copy is complete.
 */
public final class LazyPageRequests {
  static final int RECORD = 32;
  static final int CMD_MASK = 0xffff;
  static final int PS_IOV_GET = 7;
  static final int PS_IOV_CLOSE = 0x1023;
  static final int PS_IOV_FORCE_CLOSE = 0x1024;

  private final byte[] head = new byte[16];
  private int position;
  private long requests;
  private long pagesRequested;
  private boolean closed;
  private Runnable closeHandler = () -> { };

  /** Called once, when the daemon's close record has been read. */
  public LazyPageRequests closeHandler(Runnable handler) {
    this.closeHandler = handler;
    return this;
  }

  public void feed(Buffer buffer) {
    int length = buffer.length();
    int index = 0;
    while (index < length) {
      if (position < head.length) {
        int take = Math.min(head.length - position, length - index);
        buffer.getBytes(index, index + take, head, position);
        position += take;
        index += take;
        if (position == head.length) {
          record();
        }
      } else {
        int skip = Math.min(RECORD - position, length - index);
        position += skip;
        index += skip;
      }
      if (position == RECORD) {
        position = 0;
      }
    }
  }

  private void record() {
    int cmd = littleEndianInt(0) & CMD_MASK;
    if (cmd == PS_IOV_GET) {
      requests++;
      pagesRequested += littleEndianInt(8) & 0xffffffffL;
    } else if ((cmd == PS_IOV_CLOSE || cmd == PS_IOV_FORCE_CLOSE) && !closed) {
      closed = true;
      closeHandler.run();
    }
  }

  private int littleEndianInt(int offset) {
    return (head[offset] & 0xff) | (head[offset + 1] & 0xff) << 8 | (head[offset + 2] & 0xff) << 16
        | (head[offset + 3] & 0xff) << 24;
  }

  /** True once the daemon said it has every page. */
  public boolean closed() {
    return closed;
  }

  public long requests() {
    return requests;
  }

  public long pagesRequested() {
    return pagesRequested;
  }
}
