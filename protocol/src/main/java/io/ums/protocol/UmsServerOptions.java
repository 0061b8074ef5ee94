package io.ums.protocol;

/** Limits of a UMS server; see {@link UmsEndpointOptions} for the defaults. */
public class UmsServerOptions extends UmsEndpointOptions<UmsServerOptions> {
  @Override
  protected UmsServerOptions self() {
    return this;
  }
}
