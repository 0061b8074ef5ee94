package io.ums.agent.dataplane;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.buffer.Buffer;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The daemon's request records, as criu/page-xfer.c sends them, split at every possible boundary. */
class LazyPageRequestsTest {
  private static Buffer record(int cmd, long pages, long vaddr, long id) {
    return Buffer.buffer().appendIntLE(cmd).appendIntLE(0).appendLongLE(pages).appendLongLE(vaddr)
        .appendLongLE(id);
  }

  private static Buffer stream() {
    return Buffer.buffer()
        .appendBuffer(record(LazyPageRequests.PS_IOV_GET, 1, 0x37134000L, 0x101))
        .appendBuffer(record(LazyPageRequests.PS_IOV_GET, 16, 0x7f0000000000L, 0x101))
        .appendBuffer(record(LazyPageRequests.PS_IOV_GET | (1 << 16), 1024, 0x7f0000010000L, 0x201))
        .appendBuffer(record(LazyPageRequests.PS_IOV_CLOSE, 0, 0, 0));
  }

  @Test
  void countsRequestsAndSeesTheCloseWhateverTheChunkSize() {
    Buffer stream = stream();
    assertThat(stream.length()).isEqualTo(4 * LazyPageRequests.RECORD);
    for (int chunk = 1; chunk <= stream.length(); chunk++) {
      AtomicInteger closes = new AtomicInteger();
      LazyPageRequests requests = new LazyPageRequests().closeHandler(closes::incrementAndGet);
      for (int start = 0; start < stream.length(); start += chunk) {
        assertThat(requests.closed()).isEqualTo(start >= 3 * LazyPageRequests.RECORD + 16);
        requests.feed(stream.getBuffer(start, Math.min(stream.length(), start + chunk)));
      }
      assertThat(requests.requests()).as("chunk %d", chunk).isEqualTo(3);
      assertThat(requests.pagesRequested()).isEqualTo(1 + 16 + 1024);
      assertThat(requests.closed()).isTrue();
      assertThat(closes).hasValue(1);
    }
  }

  @Test
  void aStreamCutBeforeItsCloseRecordIsNotClosed() {
    Buffer stream = stream();
    LazyPageRequests requests = new LazyPageRequests();
    // the close record's command word is what counts: its first 16 bytes (command and page count) count; one byte short of them
    requests.feed(stream.getBuffer(0, 3 * LazyPageRequests.RECORD + 15));
    assertThat(requests.closed()).isFalse();
  }
}
