package io.ums.protocol;

/**
 * Byte counters of one connection. "Payload" counts channel bytes as the application sees them
 * (uncompressed); "wire" counts everything written to / read from the socket, headers included.
 */
public record ConnectionStats(
    long payloadBytesSent, long payloadBytesReceived, long wireBytesSent, long wireBytesReceived,
    int openChannels) {

  public long bytesSent() {
    return payloadBytesSent;
  }

  public long bytesReceived() {
    return payloadBytesReceived;
  }
}
