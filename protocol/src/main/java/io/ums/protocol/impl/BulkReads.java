package io.ums.protocol.impl;

import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;

/**
 * Read buffers for sockets that carry bulk streams: Netty's default guess stops at 64 KiB, so a 1 GiB page
 * stream took 16 384 reads per socket, each a system call and a wake-up on the other side; up to 1 MiB per
 * read when the socket has that much, shrinking again when it has not.
 */
final class BulkReads {
  static final int MAX_READ = Integer.getInteger("ums.protocol.maxReadKiB", 1024) * 1024;

  private BulkReads() {
  }

  static void configure(Channel channel) {
    if (MAX_READ > 64 * 1024) {
      channel.config().setRecvByteBufAllocator(new AdaptiveRecvByteBufAllocator(512, 16 * 1024, MAX_READ));
    }
  }
}
