package io.ums.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The agent's use: a file piped into a channel, the channel piped into a file, on real disk and socket. */
@ExtendWith(VertxExtension.class)
class PipeToTest {
  @TempDir
  Path dir;

  @Test
  @Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
  void fileToChannelToFile(Vertx vertx, VertxTestContext test) throws Exception {
    Path source = dir.resolve("pages.img");
    Path target = dir.resolve("received.img");
    byte[] content = new byte[5 * 1024 * 1024 + 17];
    new Random(1).nextBytes(content);
    Files.write(source, content);
    Promise<Void> written = Promise.promise();

    TestPeers.start(vertx, new UmsServerOptions(), new UmsClientOptions(), connection ->
        connection.channelHandler(channel -> vertx.fileSystem()
            .open(target.toString(), new OpenOptions().setWrite(true).setCreate(true))
            .compose(channel::pipeTo)
            .onComplete(written)))
        .compose(TestPeers::connect)
        .compose(connection -> connection.openChannel("image", new JsonObject().put("file", "pages.img"), true))
        .compose(channel -> vertx.fileSystem().open(source.toString(), new OpenOptions().setRead(true))
            .compose(file -> file.pipeTo(channel)))
        .compose(v -> written.future())
        .onComplete(test.succeeding(v -> test.verify(() -> {
          assertThat(Files.readAllBytes(target)).isEqualTo(content);
          test.completeNow();
        })));
  }
}
