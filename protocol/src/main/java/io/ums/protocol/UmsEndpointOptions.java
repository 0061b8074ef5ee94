package io.ums.protocol;

import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/** The limits both ends of a UMS connection announce and enforce (PROTOCOL.md, section 5). */
public abstract class UmsEndpointOptions<SELF extends UmsEndpointOptions<SELF>> {
  public static final int MIN_FRAME_SIZE = 16 * 1024;
  public static final int MAX_FRAME_SIZE = 16 * 1024 * 1024;
  public static final int MIN_WINDOW = 64 * 1024;
  public static final int MAX_WINDOW = 1 << 30;

  public static final int DEFAULT_MAX_FRAME_SIZE = 256 * 1024;
  public static final int DEFAULT_MAX_CHANNELS = 256;
  public static final int DEFAULT_MAX_METADATA_SIZE = 16 * 1024;
  public static final int DEFAULT_INITIAL_WINDOW = 4 * 1024 * 1024;
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);
  public static final Duration DEFAULT_PING_INTERVAL = Duration.ofSeconds(15);
  public static final Set<String> DEFAULT_COMPRESSION_CODECS = Set.of("lz4");
  public static final int DEFAULT_CHANNEL_WRITE_QUEUE_SIZE = 1024 * 1024;
  /** The socket's write queue; larger than Vert.x's default so big frames stream without stalls. */
  public static final int DEFAULT_SOCKET_WRITE_QUEUE_SIZE = 1024 * 1024;

  private int maxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private int maxChannels = DEFAULT_MAX_CHANNELS;
  private int maxMetadataSize = DEFAULT_MAX_METADATA_SIZE;
  private int initialWindow = DEFAULT_INITIAL_WINDOW;
  private Duration idleTimeout = DEFAULT_IDLE_TIMEOUT;
  private Duration pingInterval = DEFAULT_PING_INTERVAL;
  private Set<String> compressionCodecs = DEFAULT_COMPRESSION_CODECS;
  private int channelWriteQueueSize = DEFAULT_CHANNEL_WRITE_QUEUE_SIZE;
  private int socketWriteQueueSize = DEFAULT_SOCKET_WRITE_QUEUE_SIZE;

  protected abstract SELF self();

  public int getMaxFrameSize() {
    return maxFrameSize;
  }

  public SELF setMaxFrameSize(int maxFrameSize) {
    this.maxFrameSize = checkRange("maxFrameSize", maxFrameSize, MIN_FRAME_SIZE, MAX_FRAME_SIZE);
    return self();
  }

  public int getMaxChannels() {
    return maxChannels;
  }

  public SELF setMaxChannels(int maxChannels) {
    this.maxChannels = checkRange("maxChannels", maxChannels, 1, 1 << 20);
    return self();
  }

  public int getMaxMetadataSize() {
    return maxMetadataSize;
  }

  public SELF setMaxMetadataSize(int maxMetadataSize) {
    this.maxMetadataSize = checkRange("maxMetadataSize", maxMetadataSize, 2, MAX_FRAME_SIZE);
    return self();
  }

  public int getInitialWindow() {
    return initialWindow;
  }

  public SELF setInitialWindow(int initialWindow) {
    this.initialWindow = checkRange("initialWindow", initialWindow, MIN_WINDOW, MAX_WINDOW);
    return self();
  }

  public Duration getIdleTimeout() {
    return idleTimeout;
  }

  public SELF setIdleTimeout(Duration idleTimeout) {
    this.idleTimeout = positive("idleTimeout", idleTimeout);
    return self();
  }

  public Duration getPingInterval() {
    return pingInterval;
  }

  public SELF setPingInterval(Duration pingInterval) {
    this.pingInterval = positive("pingInterval", pingInterval);
    return self();
  }

  public Set<String> getCompressionCodecs() {
    return compressionCodecs;
  }

  public SELF setCompressionCodecs(Set<String> compressionCodecs) {
    this.compressionCodecs = Set.copyOf(compressionCodecs);
    return self();
  }

  public int getChannelWriteQueueSize() {
    return channelWriteQueueSize;
  }

  /** Default write queue size of outgoing channels (each may still change its own). */
  public SELF setChannelWriteQueueSize(int channelWriteQueueSize) {
    this.channelWriteQueueSize = checkRange("channelWriteQueueSize", channelWriteQueueSize, 1, MAX_WINDOW);
    return self();
  }

  public int getSocketWriteQueueSize() {
    return socketWriteQueueSize;
  }

  public SELF setSocketWriteQueueSize(int socketWriteQueueSize) {
    this.socketWriteQueueSize = checkRange("socketWriteQueueSize", socketWriteQueueSize, 1024, MAX_WINDOW);
    return self();
  }

  private static int checkRange(String name, int value, int min, int max) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(name + " must be in [" + min + ", " + max + "], got " + value);
    }
    return value;
  }

  private static Duration positive(String name, Duration value) {
    Objects.requireNonNull(value, name);
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(name + " must be positive, got " + value);
    }
    return value;
  }
}
