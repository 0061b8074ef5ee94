package io.ums.protocol.impl;

import io.netty.util.collection.IntObjectHashMap;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsEndpointOptions;
import io.ums.protocol.UmsProtocolException;
import io.ums.protocol.codec.Frame;
import io.ums.protocol.codec.FrameType;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The channels of one connection: id allocation and the id rules of PROTOCOL.md 1 (parity, always
 * increasing), the admission of peer-opened channels (2.2), lookups that turn a frame for a wrong or
 * unknown id into a connection error, and what the channels send and count on the connection's behalf.
 */
final class ChannelRegistry {
  private static final Logger LOG = LoggerFactory.getLogger(ChannelRegistry.class);
  /** 64 KiB payloads stay within Netty's pooled buffer sizes on their way to the socket. */
  private static final int MAX_DATA_CHUNK = 64 * 1024;

  private final ContextInternal context;
  private final FrameWriter writer;
  private final UmsEndpointOptions<?> options;
  private final boolean client;
  private final ConnectionFault fault;
  private final Runnable channelFinished;
  private final IntObjectHashMap<OutgoingChannelImpl> outgoing = new IntObjectHashMap<>();
  private final IntObjectHashMap<IncomingChannelImpl> incoming = new IntObjectHashMap<>();
  private int nextLocalId;
  private int highestPeerId;
  private long payloadSent;
  private long payloadReceived;

  /**
   * @param channelFinished told each time a channel closed or failed (a draining connection may close)
   */
  ChannelRegistry(ContextInternal context, FrameWriter writer, UmsEndpointOptions<?> options, boolean client,
      ConnectionFault fault, Runnable channelFinished) {
    this.context = context;
    this.writer = writer;
    this.options = options;
    this.client = client;
    this.fault = fault;
    this.channelFinished = channelFinished;
    this.nextLocalId = client ? 1 : 2;
  }

  ContextInternal context() {
    return context;
  }

  FrameWriter writer() {
    return writer;
  }

  // ---- opening ----

  /** Opens a channel this side sends on; the caller checked that the connection may open one. */
  OutgoingChannelImpl open(String kind, Buffer metadata, boolean compress, Negotiated negotiated) {
    int id = nextLocalId;
    nextLocalId += 2;
    boolean lz4 = compress && negotiated.lz4();
    int maxChunk = Math.min(MAX_DATA_CHUNK, negotiated.peerMaxFrameSize() - FrameType.DATA_PREFIX_LZ4);
    OutgoingChannelImpl channel = new OutgoingChannelImpl(this, id, negotiated.peerInitialWindow(), maxChunk, lz4,
        negotiated.checksums(), options.getChannelWriteQueueSize());
    outgoing.put(id, channel);
    writer.send(new Frame.Open(id, lz4, kind, metadata));
    return channel;
  }

  /**
   * A peer's OPEN: a connection error for a bad id, a RESET for a channel this side refuses, else the
   * channel goes to {@code handler}.
   */
  void accept(Frame.Open open, Negotiated negotiated, boolean goingAway, Handler<IncomingChannel> handler) {
    int id = open.channel();
    if (isLocalId(id)) {
      fault.fail(ProtocolError.MALFORMED_FRAME, "peer opened channel " + id + " with this side's id parity");
      return;
    }
    if (id <= highestPeerId) {
      fault.fail(ProtocolError.MALFORMED_FRAME, "channel id " + id + " not above " + highestPeerId);
      return;
    }
    highestPeerId = id;
    if (goingAway) {
      resetChannel(id, ProtocolError.GOING_AWAY, "no new channels after GOAWAY");
    } else if (incoming.size() >= options.getMaxChannels()) {
      resetChannel(id, ProtocolError.CHANNEL_LIMIT, "more than " + options.getMaxChannels() + " open channels");
    } else if (open.metadata().length() > options.getMaxMetadataSize()) {
      resetChannel(id, ProtocolError.METADATA_TOO_LARGE,
          open.metadata().length() + " bytes of metadata, limit " + options.getMaxMetadataSize());
    } else if (open.compressed() && !negotiated.lz4()) {
      resetChannel(id, ProtocolError.COMPRESSION_ERROR, "compression was not negotiated");
    } else if (handler == null) {
      resetChannel(id, ProtocolError.CHANNEL_RESET, "this side accepts no channels");
    } else {
      JsonObject metadata = parseMetadata(open.metadata());
      if (metadata == null) {
        resetChannel(id, ProtocolError.MALFORMED_FRAME, "metadata is not a JSON object");
        return;
      }
      IncomingChannelImpl channel = new IncomingChannelImpl(this, open, metadata, options.getInitialWindow(),
          options.getMaxFrameSize(), negotiated.checksums());
      incoming.put(id, channel);
      try {
        handler.handle(channel);
      } catch (RuntimeException e) {
        channel.applicationFailed(e);
      }
    }
  }

  private static JsonObject parseMetadata(Buffer bytes) {
    if (bytes.length() == 0) {
      return new JsonObject();
    }
    try {
      return new JsonObject(bytes);
    } catch (RuntimeException e) {
      return null;
    }
  }

  // ---- lookups for peer frames ----

  /** The receiving channel for a peer-sent frame, null when it is finished (frame ignored) or unknown. */
  IncomingChannelImpl incomingFor(int id) {
    if (isLocalId(id)) {
      fault.fail(ProtocolError.MALFORMED_FRAME, "DATA/CLOSE on channel " + id + ", which this side sends on");
      return null;
    }
    IncomingChannelImpl channel = incoming.get(id);
    if (channel == null && id > highestPeerId) {
      fault.fail(ProtocolError.UNKNOWN_CHANNEL, "channel " + id + " was never opened");
    }
    return channel;
  }

  /** The sending channel a peer's CREDIT/CLOSE_ACK is for, null when it is finished or unknown. */
  OutgoingChannelImpl outgoingFor(int id) {
    if (!isLocalId(id)) {
      fault.fail(ProtocolError.MALFORMED_FRAME, "CREDIT/CLOSE_ACK on channel " + id + ", which the peer sends on");
      return null;
    }
    OutgoingChannelImpl channel = outgoing.get(id);
    if (channel == null && id >= nextLocalId) {
      fault.fail(ProtocolError.UNKNOWN_CHANNEL, "channel " + id + " was never opened");
    }
    return channel;
  }

  void onReset(Frame.Reset reset) {
    int id = reset.channel();
    if (isLocalId(id)) {
      OutgoingChannelImpl channel = outgoingFor(id);
      if (channel != null) {
        channel.onPeerReset(reset.code(), reset.message());
      }
    } else {
      IncomingChannelImpl channel = incomingFor(id);
      if (channel != null) {
        channel.onPeerReset(reset.code(), reset.message());
      }
    }
  }

  private boolean isLocalId(int id) {
    return ((id & 1) == 1) == client;
  }

  /** The highest channel id the peer opened: GOAWAY's lastChannelId. */
  int highestPeerId() {
    return highestPeerId;
  }

  // ---- called by channels ----

  void resetChannel(int id, ProtocolError code, String message) {
    LOG.debug("UMS channel {} reset: {} {}", id, code, message);
    writer.send(new Frame.Reset(id, code, message));
  }

  void grantCredit(int id, int increment) {
    writer.send(new Frame.Credit(id, increment));
  }

  void sendCloseAck(int id) {
    writer.send(new Frame.CloseAck(id));
  }

  void channelFinished(int id) {
    if (outgoing.remove(id) == null) {
      incoming.remove(id);
    }
    channelFinished.run();
  }

  void countPayloadSent(int length) {
    payloadSent += length;
  }

  void countPayloadReceived(int length) {
    payloadReceived += length;
  }

  // ---- the connection's view ----

  boolean isEmpty() {
    return outgoing.isEmpty() && incoming.isEmpty();
  }

  int openChannels() {
    return outgoing.size() + incoming.size();
  }

  long payloadSent() {
    return payloadSent;
  }

  long payloadReceived() {
    return payloadReceived;
  }

  /** The connection is gone: every open channel fails with {@code cause}. */
  void failAll(UmsProtocolException cause) {
    for (OutgoingChannelImpl channel : new ArrayList<>(outgoing.values())) {
      channel.fail(cause);
    }
    for (IncomingChannelImpl channel : new ArrayList<>(incoming.values())) {
      channel.fail(cause);
    }
  }
}
