package io.ums.protocol.impl;

import io.ums.protocol.ProtocolError;
import io.ums.protocol.codec.Frame;
import io.ums.protocol.codec.FrameHandler;

/**
 * Routes each decoded frame of one connection (PROTOCOL.md 2): handshake frames to the handshake while
 * it runs and nothing else then; afterwards channel frames to their channel, PINGs to the keep-alive,
 * GOAWAY and ERROR to the connection. Frames arriving after the connection closed are dropped.
 */
final class FrameDispatcher implements FrameHandler {
  private final UmsConnectionImpl connection;
  private final Handshake handshake;
  private final ChannelRegistry channels;
  private final KeepAlive keepAlive;

  FrameDispatcher(UmsConnectionImpl connection, Handshake handshake, ChannelRegistry channels, KeepAlive keepAlive) {
    this.connection = connection;
    this.handshake = handshake;
    this.channels = channels;
    this.keepAlive = keepAlive;
  }

  @Override
  public void onFrame(Frame frame) {
    if (frame instanceof Frame.Data data && !connection.isOpen()) {
      // dropped below (closed, or a handshake violation): nobody else will release its bytes
      OwnedBuffers.release(data.payload());
    }
    if (connection.isClosed()) {
      return;
    }
    if (frame instanceof Frame.Error error) {
      connection.onPeerError(error);
    } else if (!connection.isOpen()) {
      duringHandshake(frame);
    } else if (frame instanceof Frame.HandshakeFrame) {
      connection.fail(ProtocolError.MALFORMED_FRAME, frame.getClass().getSimpleName() + " after the handshake");
    } else if (frame instanceof Frame.ChannelFrame channelFrame) {
      onChannelFrame(channelFrame);
    } else if (frame instanceof Frame.Ping ping) {
      keepAlive.onPing(ping.opaque());
    } else if (frame instanceof Frame.GoAway goAway) {
      connection.onPeerGoAway(goAway);
    }
    // PONG: receiving it already counted as life
  }

  private void duringHandshake(Frame frame) {
    if (frame instanceof Frame.HandshakeFrame handshakeFrame) {
      handshake.onFrame(handshakeFrame);
    } else {
      connection.fail(ProtocolError.NOT_AUTHENTICATED,
          frame.getClass().getSimpleName() + " before the handshake completed");
    }
  }

  private void onChannelFrame(Frame.ChannelFrame frame) {
    if (frame instanceof Frame.Data data) {
      IncomingChannelImpl channel = channels.incomingFor(data.channel());
      if (channel != null) {
        channel.onData(data);
      } else {
        OwnedBuffers.release(data.payload());
      }
    } else if (frame instanceof Frame.Credit credit) {
      OutgoingChannelImpl channel = channels.outgoingFor(credit.channel());
      if (channel != null) {
        channel.onCredit(credit.increment());
      }
    } else if (frame instanceof Frame.Open open) {
      connection.onPeerOpen(open);
    } else if (frame instanceof Frame.Close close) {
      IncomingChannelImpl channel = channels.incomingFor(close.channel());
      if (channel != null) {
        channel.onClose(close);
      }
    } else if (frame instanceof Frame.CloseAck ack) {
      OutgoingChannelImpl channel = channels.outgoingFor(ack.channel());
      if (channel != null) {
        channel.onCloseAck();
      }
    } else if (frame instanceof Frame.Reset reset) {
      channels.onReset(reset);
    }
  }

  @Override
  public void onDecodeError(ProtocolError error, String message) {
    connection.fail(error, message);
  }
}
