package io.ums.agent.dataplane;

import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits one direction of CRIU's lazy page-server stream, fed in buffers split anywhere, into whole
 * messages: a 32-byte {@code page_server_iov} record (u32 cmd, 4 bytes of padding, u64 nr_pages, u64 vaddr,
 * u64 dst_id, little-endian), followed, in the page server's answers, by {@code nr_pages} pages. Pages
 * are handed on as slices of the buffers fed (no copy).
 */
final class PageServerMessages {
  static final int RECORD = 32;
  static final int PAGE = 4096;
  static final int PS_IOV_ADD_F = 6;
  static final int PE_PRESENT = 1 << 2;
  static final int PS_CMD_BITS = 16;

  interface Handler {
    void message(Buffer record, List<Buffer> pages);
  }

  private final boolean withPages;
  private final Handler handler;
  private final byte[] record = new byte[RECORD];
  private int recordBytes;
  private Buffer current;
  private long pagesBytesLeft;
  private List<Buffer> pages;

  /** @param withPages true for the page server's answers (a record, then its pages), false for requests */
  PageServerMessages(boolean withPages, Handler handler) {
    this.withPages = withPages;
    this.handler = handler;
  }

  void feed(Buffer buffer) {
    int length = buffer.length();
    int index = 0;
    while (index < length) {
      if (current == null) {
        int take = Math.min(RECORD - recordBytes, length - index);
        buffer.getBytes(index, index + take, record, recordBytes);
        recordBytes += take;
        index += take;
        if (recordBytes < RECORD) {
          return;
        }
        recordBytes = 0;
        current = Buffer.buffer(record.clone());
        pagesBytesLeft = withPages ? nrPages(current) * PAGE : 0;
        pages = new ArrayList<>();
      } else {
        int take = (int) Math.min(pagesBytesLeft, length - index);
        pages.add(index == 0 && take == length ? buffer : buffer.slice(index, index + take));
        pagesBytesLeft -= take;
        index += take;
      }
      if (pagesBytesLeft == 0) {
        Buffer done = current;
        List<Buffer> donePages = pages;
        current = null;
        pages = null;
        handler.message(done, donePages);
      }
    }
  }

  static int cmd(Buffer record) {
    return record.getIntLE(0) & 0xffff;
  }

  static long nrPages(Buffer record) {
    return record.getLongLE(8);
  }

  static long vaddr(Buffer record) {
    return record.getLongLE(16);
  }

  static long dstId(Buffer record) {
    return record.getLongLE(24);
  }

  /** A request for {@code pages} pages of task {@code pid} at {@code vaddr}. */
  static Buffer request(int cmd, long pid, long vaddr, long pages) {
    return Buffer.buffer(RECORD).appendIntLE(cmd).appendIntLE(0).appendLongLE(pages).appendLongLE(vaddr)
        .appendLongLE(pid);
  }

  /** The record a page server puts before {@code pages} pages it sends (criu/page-xfer.c, page_server_get_pages). */
  static Buffer answer(long pid, long vaddr, long pages) {
    return request(PS_IOV_ADD_F | PE_PRESENT << PS_CMD_BITS, pid, vaddr, pages);
  }
}
