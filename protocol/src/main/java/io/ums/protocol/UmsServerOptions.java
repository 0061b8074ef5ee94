package io.ums.protocol;

/** Limits of a UMS server; see {@link UmsEndpointOptions} for the defaults. */
public class UmsServerOptions extends UmsEndpointOptions<UmsServerOptions> {
  private boolean tls;

  @Override
  protected UmsServerOptions self() {
    return this;
  }

  public boolean isTls() {
    return tls;
  }

  /**
   * Also accept TLS 1.3 connections (PROTOCOL.md 2.4) on the same port, with a self-signed certificate
   * made when the first TLS connection arrives (or {@link UmsServer#prepareTls}); plain connections are
   * still accepted. Off by default.
   */
  public UmsServerOptions setTls(boolean tls) {
    this.tls = tls;
    return this;
  }
}
