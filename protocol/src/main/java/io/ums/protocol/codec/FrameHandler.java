package io.ums.protocol.codec;

import io.ums.protocol.ProtocolError;

/** Receives what a {@link FrameDecoder} decodes. */
public interface FrameHandler {
  void onFrame(Frame frame);

  /** The byte stream broke the protocol; the decoder ignores all later input. */
  void onDecodeError(ProtocolError error, String message);
}
