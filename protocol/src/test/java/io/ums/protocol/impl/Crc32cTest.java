package io.ums.protocol.impl;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.buffer.Buffer;
import java.util.zip.CRC32C;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;

class Crc32cTest {
  @Property(tries = 300)
  void combineEqualsTheCrcOfTheConcatenation(@ForAll @Size(max = 3000) byte[] a, @ForAll @Size(max = 3000) byte[] b) {
    CRC32C whole = new CRC32C();
    whole.update(a);
    whole.update(b);
    int combined = Crc32c.combine(Crc32c.of(Buffer.buffer(a)), Crc32c.of(Buffer.buffer(b)), b.length);
    assertThat(combined).isEqualTo((int) whole.getValue());
  }

  @Property(tries = 50)
  void compositeBuffersHashLikeTheirBytes(@ForAll @Size(max = 3000) byte[] a, @ForAll @Size(max = 3000) byte[] b) {
    Buffer composite = io.vertx.core.internal.buffer.BufferInternal.buffer(io.netty.buffer.Unpooled.wrappedBuffer(
        io.netty.buffer.Unpooled.wrappedBuffer(a), io.netty.buffer.Unpooled.wrappedBuffer(b)));
    assertThat(Crc32c.of(composite)).isEqualTo(Crc32c.of(Buffer.buffer(a).appendBytes(b)));
  }
}
