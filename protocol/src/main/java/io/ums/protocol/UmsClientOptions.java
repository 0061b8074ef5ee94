package io.ums.protocol;

import java.time.Duration;
import java.util.Objects;

/** Limits of a UMS client plus its connect timeout. */
public class UmsClientOptions extends UmsEndpointOptions<UmsClientOptions> {
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);

  private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;

  @Override
  protected UmsClientOptions self() {
    return this;
  }

  public Duration getConnectTimeout() {
    return connectTimeout;
  }

  public UmsClientOptions setConnectTimeout(Duration connectTimeout) {
    this.connectTimeout = Objects.requireNonNull(connectTimeout, "connectTimeout");
    return this;
  }
}
