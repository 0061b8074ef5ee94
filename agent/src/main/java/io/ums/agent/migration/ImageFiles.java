package io.ums.agent.migration;

import io.ums.agent.error.MigrationFailure;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The small image files of a dump (everything but the pages, which went through the page server), one
 * channel each, streamed from and to files: no whole file is ever held in memory.
 */
final class ImageFiles {
  private static final Pattern SAFE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}\\.img");

  private ImageFiles() {}

  /** The image files in {@code dir}. Blocking. */
  static List<Path> list(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(path -> SAFE_NAME.matcher(path.getFileName().toString()).matches()).sorted().toList();
    }
  }

  /** Sends the files one after the other; completes with their total size once the peer verified all. */
  static Future<Long> send(Vertx vertx, UmsConnection connection, List<Path> files) {
    Future<Long> sent = Future.succeededFuture(0L);
    for (Path file : files) {
      sent = sent.compose(total -> sendOne(vertx, connection, file).map(size -> total + size));
    }
    return sent;
  }

  private static Future<Long> sendOne(Vertx vertx, UmsConnection connection, Path file) {
    String name = file.getFileName().toString();
    return vertx.fileSystem().open(file.toString(), new OpenOptions().setRead(true).setWrite(false))
        .compose(in -> connection.openChannel(Channels.IMAGE, new JsonObject().put("name", name))
            .compose(channel -> in.pipeTo(channel).map(ignored -> channel.bytesWritten()))
            .eventually(in::close));
  }

  /** Writes an incoming image channel into {@code dir}; completes once the file is complete and verified. */
  static Future<Void> receive(Vertx vertx, IncomingChannel channel, Path dir) {
    String name = channel.metadata().getString("name", "");
    if (!SAFE_NAME.matcher(name).matches()) {
      channel.reset(io.ums.protocol.ProtocolError.CANCELLED, "bad image name");
      return Future.failedFuture(new MigrationFailure.Exception(MigrationFailure.Code.PROTOCOL_ERROR,
          "the source sent an image with a bad name: \"" + name + "\""));
    }
    channel.pause();
    return vertx.fileSystem().open(dir.resolve(name).toString(),
            new OpenOptions().setWrite(true).setCreate(true).setTruncateExisting(true))
        .compose(out -> channel.pipeTo(out));
  }
}
