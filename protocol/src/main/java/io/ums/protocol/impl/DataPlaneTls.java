package io.ums.protocol.impl;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetSocket;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS 1.3 under the UMS frames (PROTOCOL.md 2.4). The server presents a self-signed certificate made
 * when the first TLS connection (or {@code UmsServer.prepareTls}) needs it and accepts TLS and plain connections on one port, telling them apart by the first
 * bytes (a TLS record vs the "UMSP" magic). The client trusts any certificate at the TLS layer: it is
 * the UMS handshake that authenticates, and its proofs cover the SHA-256 of the certificate the client
 * saw (the channel binding), so a relay presenting its own certificate cannot complete it. OpenSSL
 * (BoringSSL) is used when netty-tcnative is on the class path, else the JDK's TLS.
 */
public final class DataPlaneTls {
  private static final Logger LOG = LoggerFactory.getLogger(DataPlaneTls.class);
  private static final String HANDLER = "ums-tls";
  /** Bytes that tell a TLS record from the UMS magic (content type, version, length). */
  private static final int TLS_RECORD_HEADER = 5;
  /** Made on the first TLS connection out, not when a server tells plain connections from TLS ones. */
  private static final class Client {
    static final SslContext CONTEXT = clientContext();
  }

  private final SslContext server;
  private final Buffer binding;

  private DataPlaneTls(SslContext server, Buffer binding) {
    this.server = server;
    this.binding = binding;
  }

  /** A fresh key and certificate. Blocking for a few milliseconds. */
  public static DataPlaneTls ephemeral() {
    SelfSignedCertificates.Identity identity = SelfSignedCertificates.create("ums-data-plane");
    try {
      SslContext context = SslContextBuilder.forServer(identity.keys().getPrivate(), identity.certificate())
          .sslProvider(provider()).protocols("TLSv1.3").build();
      return new DataPlaneTls(context, binding(identity.certificate()));
    } catch (SSLException e) {
      throw new IllegalStateException("cannot set up TLS 1.3 for the data plane: " + e.getMessage(), e);
    }
  }

  /** "OpenSSL" or "JDK": which TLS implementation encrypts. */
  public static String providerName() {
    return provider() == SslProvider.OPENSSL ? "OpenSSL " + OpenSsl.versionString() : "JDK";
  }

  private static SslProvider provider() {
    return OpenSsl.isAvailable() && SslProvider.isTlsv13Supported(SslProvider.OPENSSL)
        ? SslProvider.OPENSSL : SslProvider.JDK;
  }

  private static SslContext clientContext() {
    try {
      return SslContextBuilder.forClient().sslProvider(provider()).protocols("TLSv1.3")
          .trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null).build();
    } catch (SSLException e) {
      throw new IllegalStateException("cannot set up a TLS 1.3 client: " + e.getMessage(), e);
    }
  }

  /** SHA-256 of the certificate's DER encoding (the "tls-server-end-point" binding of RFC 5929). */
  static Buffer binding(Certificate certificate) {
    try {
      return Buffer.buffer(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot hash the TLS certificate: " + e, e);
    }
  }

  /**
   * Server side: waits for the peer's first bytes; a TLS ClientHello gets TLS with the identity
   * {@code identity} supplies (made when first asked for, so a server no peer ever asks for TLS never loads
   * the TLS stack: ~11 MiB of an agent's RSS) and then {@code start} with its binding, anything else
   * {@code start} with no binding (a plain connection). Runs {@code start} on the socket's event loop before
   * any decrypted or plain byte reaches the socket's handler; {@code refuse} when TLS cannot be set up.
   */
  static void detect(NetSocket socket, Supplier<Future<DataPlaneTls>> identity, Consumer<Buffer> start,
      Runnable refuse) {
    ChannelPipeline pipeline = ((NetSocketInternal) socket).channelHandlerContext().pipeline();
    pipeline.addFirst("ums-tls-detect", new ByteToMessageDecoder() {
      private boolean waiting;

      @Override
      protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (waiting || in.readableBytes() < TLS_RECORD_HEADER) {
          return; // bytes stay in this decoder until the TLS handler (or the plain socket) takes them
        }
        if (!SslHandler.isEncrypted(in, false)) {
          start.accept(Buffer.buffer());
          ctx.pipeline().remove(this); // hands the bytes read so far on
          return;
        }
        waiting = true;
        ctx.channel().config().setAutoRead(false);
        identity.get().onComplete(made -> ctx.executor().execute(() -> {
          if (made.failed()) {
            LOG.warn("TLS connection from {} refused: {}", ctx.channel().remoteAddress(), made.cause().toString());
            refuse.run();
            return;
          }
          DataPlaneTls tls = made.result();
          SslHandler handler = wholeFrames(tls.server.newHandler(ctx.alloc()));
          handler.handshakeFuture().addListener(done -> {
            if (done.isSuccess()) {
              start.accept(tls.binding);
            } else {
              refuse.run();
            }
          });
          ctx.pipeline().replace(this, HANDLER, handler); // the ClientHello read so far goes to it
          ctx.channel().config().setAutoRead(true);
        }));
      }
    });
  }

  /**
   * Each message written (a whole DATA frame in one direct buffer, see {@link FrameWriter}) is encrypted as
   * is, in records of at most 16 KiB: the default would gather 16 KiB pieces across frames, copying them.
   */
  private static SslHandler wholeFrames(SslHandler handler) {
    handler.setWrapDataSize(0);
    return handler;
  }

  /** Client side: TLS on a connected socket; completes with the binding once the TLS handshake is done. */
  static Future<Buffer> secure(ContextInternal context, NetSocket socket, String host, int port) {
    ChannelPipeline pipeline = ((NetSocketInternal) socket).channelHandlerContext().pipeline();
    SslHandler handler = wholeFrames(Client.CONTEXT.newHandler(pipeline.channel().alloc(), host, port));
    Promise<Buffer> bound = context.promise();
    handler.handshakeFuture().addListener(done -> {
      if (done.isSuccess()) {
        LOG.debug("TLS to {}:{}: {} {} ({})", host, port, handler.engine().getSession().getProtocol(),
            handler.engine().getSession().getCipherSuite(), providerName());
        bound.tryComplete(binding(handler.engine().getSession().getPeerCertificates()[0]));
      } else {
        bound.tryFail(done.cause());
      }
    });
    pipeline.addFirst(HANDLER, handler);
    return bound.future();
  }
}
