package io.ums.agent.dataplane;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The page server's answers (record + pages), as criu/page-xfer.c sends them, split at every boundary. */
class PageServerMessagesTest {
  private static Buffer pages(int count, int seed) {
    Buffer pages = Buffer.buffer();
    for (int i = 0; i < count * PageServerMessages.PAGE; i++) {
      pages.appendByte((byte) (i * 31 + seed));
    }
    return pages;
  }

  @Test
  void splitsAnswersIntoRecordsAndTheirPagesWhateverTheChunkSize() {
    Buffer stream = Buffer.buffer()
        .appendBuffer(PageServerMessages.answer(1, 0x7f0000000000L, 1)).appendBuffer(pages(1, 1))
        .appendBuffer(PageServerMessages.answer(7, 0x7f0000100000L, 3)).appendBuffer(pages(3, 2))
        .appendBuffer(PageServerMessages.answer(1, 0x400000L, 0));
    for (int chunk : new int[] {1, 7, 31, 32, 33, 4095, 4096, 4128, 5000, stream.length()}) {
      List<Buffer> records = new ArrayList<>();
      List<Buffer> payloads = new ArrayList<>();
      PageServerMessages messages = new PageServerMessages(true, (record, data) -> {
        records.add(record);
        Buffer all = Buffer.buffer();
        data.forEach(all::appendBuffer);
        payloads.add(all);
      });
      for (int start = 0; start < stream.length(); start += chunk) {
        messages.feed(stream.getBuffer(start, Math.min(stream.length(), start + chunk)));
      }
      assertThat(records).as("chunk %d", chunk).hasSize(3);
      assertThat(PageServerMessages.cmd(records.get(1))).isEqualTo(PageServerMessages.PS_IOV_ADD_F);
      assertThat(records.get(1).getIntLE(0) >>> PageServerMessages.PS_CMD_BITS).isEqualTo(PageServerMessages.PE_PRESENT);
      assertThat(PageServerMessages.dstId(records.get(1))).isEqualTo(7);
      assertThat(PageServerMessages.vaddr(records.get(1))).isEqualTo(0x7f0000100000L);
      assertThat(PageServerMessages.nrPages(records.get(1))).isEqualTo(3);
      assertThat(payloads.get(0)).isEqualTo(pages(1, 1));
      assertThat(payloads.get(1)).isEqualTo(pages(3, 2));
      assertThat(payloads.get(2).length()).isZero();
    }
  }

  @Test
  void requestsCarryNoPages() {
    List<Buffer> records = new ArrayList<>();
    PageServerMessages messages = new PageServerMessages(false, (record, data) -> records.add(record));
    messages.feed(PageServerMessages.request(LazyPageRequests.PS_IOV_GET, 3, 0x1000, 1024));
    assertThat(records).hasSize(1);
    assertThat(PageServerMessages.nrPages(records.get(0))).isEqualTo(1024);
  }
}
