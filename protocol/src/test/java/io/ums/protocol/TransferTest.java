package io.ums.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.protocol.impl.Crc32c;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Real transfers over loopback, CRC-32C compared end to end by the test itself too. */
@ExtendWith(VertxExtension.class)
class TransferTest {
  private static final long MIB = 1024 * 1024;

  @Test
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void smallTransferArrivesIntactAndEndCompletesAfterAck(Vertx vertx, VertxTestContext test) {
    transfer(vertx, 1, 8 * MIB + 12345, false, test);
  }

  @Test
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void compressedChannelShrinksRegularDataOnTheWire(Vertx vertx, VertxTestContext test) {
    transfer(vertx, 1, 16 * MIB, true, test);
  }

  @Test
  @Tag("slow")
  @Timeout(value = 300, timeUnit = TimeUnit.SECONDS)
  void oneGibThroughOneChannel(Vertx vertx, VertxTestContext test) {
    transfer(vertx, 1, 1024 * MIB, false, test);
  }

  @Test
  @Tag("slow")
  @Timeout(value = 300, timeUnit = TimeUnit.SECONDS)
  void oneGibThroughFourChannelsInParallel(Vertx vertx, VertxTestContext test) {
    transfer(vertx, 4, 256 * MIB, false, test);
  }

  @Test
  @Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
  void encryptedTransferArrivesIntact(Vertx vertx, VertxTestContext test) {
    transfer(vertx, 1, 8 * MIB + 12345, false, true, test);
  }

  @Test
  @Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
  void encryptedCompressedTransferArrivesIntact(Vertx vertx, VertxTestContext test) {
    transfer(vertx, 1, 16 * MIB, true, true, test);
  }

  @Test
  @Timeout(value = 180, timeUnit = TimeUnit.SECONDS)
  void encryptedChannelsInParallelArriveIntact(Vertx vertx, VertxTestContext test) {
    transfer(vertx, 4, 16 * MIB + 777, false, true, test);
  }

  private void transfer(Vertx vertx, int channels, long bytesPerChannel, boolean compressible, VertxTestContext test) {
    transfer(vertx, channels, bytesPerChannel, compressible, false, test);
  }

  /** With {@code encrypt}, the server takes TLS and the client connects with it. */
  private void transfer(Vertx vertx, int channels, long bytesPerChannel, boolean compressible, boolean encrypt,
      VertxTestContext test) {
    List<Future<Long>> received = new ArrayList<>();
    List<Promise<Long>> receivedPromises = new ArrayList<>();
    for (int i = 0; i < channels; i++) {
      Promise<Long> p = Promise.promise();
      receivedPromises.add(p);
      received.add(p.future());
    }
    TestPeers.start(vertx, new UmsServerOptions().setTls(encrypt), new UmsClientOptions(), serverConnection ->
        serverConnection.channelHandler(channel -> {
          int index = channel.metadata().getInteger("index");
          CRC32C crc = new CRC32C();
          long[] count = {0};
          channel.handler(bytes -> {
            Crc32c.update(crc, bytes);
            count[0] += bytes.length();
          });
          channel.endHandler(v -> {
            assertThat(count[0]).isEqualTo(bytesPerChannel);
            receivedPromises.get(index).complete(crc.getValue());
          });
          channel.exceptionHandler(receivedPromises.get(index)::tryFail);
        })
    ).compose(peers -> peers.client().connect("127.0.0.1", peers.port(), TestPeers.SESSION, TestPeers.TOKEN, encrypt))
        .compose(connection -> {
      List<Future<Long>> sent = new ArrayList<>();
      for (int i = 0; i < channels; i++) {
        sent.add(connection.openChannel("test", new JsonObject().put("index", i), compressible)
            .compose(channel -> TestData.send(channel, bytesPerChannel, compressible)));
      }
      return Future.all(sent).compose(all -> Future.all(received)).map(all -> {
        for (int i = 0; i < channels; i++) {
          assertThat(received.get(i).result()).as("CRC of channel %d", i).isEqualTo(sent.get(i).result());
        }
        ConnectionStats stats = connection.stats();
        assertThat(stats.payloadBytesSent()).isEqualTo(channels * bytesPerChannel);
        if (compressible) {
          assertThat(stats.wireBytesSent()).isLessThan(stats.payloadBytesSent() / 4);
        }
        return null;
      });
    }).onComplete(test.succeedingThenComplete());
  }
}
