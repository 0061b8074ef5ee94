package io.ums.agent.dataplane;

/**
 * The two channels of a post-copy page stream on a migration connection. CRIU's lazy-pages protocol is
 * a client (the destination's {@code criu lazy-pages} daemon) asking a server (the source's
 * {@code criu dump --lazy-pages}) for pages; each direction is one channel, with the protocol's credit
 * flow control, so no second connection ever joins the two nodes.
 */
public final class LazyPageChannels {
  /** destination -> source: the daemon's page requests (24-byte headers), ending with its close. */
  public static final String REQUESTS = "criu-lazy-requests";
  /** source -> destination: the page server's answers (header + pages). */
  public static final String PAGES = "criu-lazy-pages";

  private LazyPageChannels() {}
}
