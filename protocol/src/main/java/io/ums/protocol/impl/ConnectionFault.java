package io.ums.protocol.impl;

import io.ums.protocol.ProtocolError;

/** How a part of a connection reports a connection-level protocol error: ERROR frame, then close. */
@FunctionalInterface
interface ConnectionFault {
  void fail(ProtocolError error, String message);
}
