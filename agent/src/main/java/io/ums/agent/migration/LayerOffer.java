package io.ums.agent.migration;

import io.ums.agent.image.Image;
import io.ums.agent.image.ImageLayer;
import io.ums.agent.image.OciImageStore;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.file.OpenOptions;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A container source's first step, before the freeze (the container still runs): offer the image, stream only
 * the layers the destination lacks. Shared by the runc and podman sources.
 */
final class LayerOffer {
  private static final Logger LOG = LoggerFactory.getLogger(LayerOffer.class);

  private final SourceSession session;
  private final OciImageStore store;
  private final Promise<List<String>> layersWanted = Promise.promise();
  private OutgoingChannel layerChannel;
  private long layerBytesSent;
  private long layerBytesSkipped;

  LayerOffer(SourceSession session, OciImageStore store) {
    this.session = session;
    this.store = store;
  }

  /** Takes the destination's answer ({@link Channels#LAYERS_WANTED}); false for any other channel. */
  boolean onPeerChannel(IncomingChannel channel) {
    if (!Channels.LAYERS_WANTED.equals(channel.kind())) {
      return false;
    }
    List<String> missing = ImageOffer.wantedDigests(channel.metadata());
    channel.handler(ignored -> { });
    channel.endHandler(ignored -> layersWanted.tryComplete(missing));
    return true;
  }

  /** Offers {@code image}, then streams the layers the destination asked for. */
  Future<Void> send(Image image) {
    MigrationStatus status = session.status();
    status.phase(MigrationPhase.TRANSFERRING);
    ImageOffer offer = new ImageOffer(image.name(),
        new String(store.readBlob(image.manifest()), StandardCharsets.UTF_8),
        new String(store.readBlob(image.config()), StandardCharsets.UTF_8), image.layers());
    return session.connection().openChannel(Channels.IMAGE_OFFER, offer.toJson()).compose(OutgoingChannel::end)
        .compose(ignored -> layersWanted.future())
        .compose(missing -> {
          Set<String> wanted = new HashSet<>(missing);
          Future<Void> sent = Future.succeededFuture();
          for (ImageLayer layer : image.layers()) {
            if (wanted.contains(layer.digest().toString())) {
              sent = sent.compose(ignored -> sendLayer(layer));
            } else {
              layerBytesSkipped += layer.size();
            }
          }
          status.bytes("layerBytesSkipped", layerBytesSkipped);
          LOG.info("migration {}: destination lacks {} of {} layer(s); {} bytes of layers skipped", session.id(),
              wanted.size(), image.layers().size(), layerBytesSkipped);
          return sent;
        });
  }

  private Future<Void> sendLayer(ImageLayer layer) {
    return session.deps().vertx().fileSystem()
        .open(store.blobPath(layer.digest()).toString(), new OpenOptions().setRead(true).setWrite(false))
        .compose(in -> session.connection().openChannel(Channels.LAYER, layer.toJson())
            .compose(channel -> {
              layerChannel = channel;
              return in.pipeTo(channel);
            })
            .eventually(in::close))
        .onSuccess(ignored -> {
          layerBytesSent += layer.size();
          session.status().bytes("layerBytesSent", layerBytesSent);
          layerChannel = null;
        });
  }

  long bytesSent() {
    return layerBytesSent;
  }

  /** Stops a layer still streaming. */
  void reset(String why) {
    if (layerChannel != null) {
      layerChannel.reset(ProtocolError.CANCELLED, why);
    }
  }
}
