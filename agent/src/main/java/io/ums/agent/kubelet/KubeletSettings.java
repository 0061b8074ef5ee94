package io.ums.agent.kubelet;

import io.ums.agent.image.CheckpointImages;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * How the agent reaches its node's kubelet (the orchestrator-level approach) and where checkpoint images go.
 *
 * @param url {@code https://<node ip>:10250}; empty: the kubelet approach is off on this agent
 * @param tokenFile bearer token (the service account's), read anew for every call since projected tokens rotate
 * @param caFile PEM of the CA that signed the kubelet's serving certificate
 * @param insecureTls skip verification of the kubelet's certificate (test clusters only)
 * @param checkpointDir where the kubelet's archives appear on the agent's file system (a hostPath mount)
 * @param checkpointImages where a destination imports checkpoint images
 * @param timeout how long one kubelet checkpoint call may take (also passed to the kubelet)
 * @param retireImagesAfter how long after its import a checkpoint image nobody settled is retired by the agent
 *     itself ({@link io.ums.agent.image.CheckpointImageLedger}); zero: never
 */
public record KubeletSettings(Optional<URI> url, Optional<Path> tokenFile, Optional<Path> caFile, boolean insecureTls,
                              Path checkpointDir, CheckpointImages checkpointImages, Duration timeout,
                              Duration retireImagesAfter) {
  public static final Path DEFAULT_CHECKPOINT_DIR = Path.of("/var/lib/kubelet/checkpoints");
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);
  /** Far beyond any commit: a coordinator creates the pod within its phase timeout (minutes). */
  public static final Duration DEFAULT_RETIRE_IMAGES_AFTER = Duration.ofMinutes(30);

  public KubeletSettings {
    checkpointDir = checkpointDir.toAbsolutePath().normalize();
    if (retireImagesAfter.isNegative()) {
      throw new IllegalArgumentException("retireImagesAfter must not be negative: " + retireImagesAfter);
    }
  }

  /** As the canonical constructor, checkpoint images nobody settled being retired after the default time. */
  public KubeletSettings(Optional<URI> url, Optional<Path> tokenFile, Optional<Path> caFile, boolean insecureTls,
                         Path checkpointDir, CheckpointImages checkpointImages, Duration timeout) {
    this(url, tokenFile, caFile, insecureTls, checkpointDir, checkpointImages, timeout, DEFAULT_RETIRE_IMAGES_AFTER);
  }

  /** The kubelet approach off; checkpoint images (a destination's part) still go to containers-storage. */
  public static KubeletSettings none() {
    return new KubeletSettings(Optional.empty(), Optional.empty(), Optional.empty(), false, DEFAULT_CHECKPOINT_DIR,
        CheckpointImages.parse(CheckpointImages.CONTAINERS_STORAGE), DEFAULT_TIMEOUT);
  }

  public boolean configured() {
    return url.isPresent();
  }

  /** The "kubelet" object of GET /v1/info. */
  public JsonObject infoJson() {
    return new JsonObject().put("configured", configured()).put("url", url.map(URI::toString).orElse(null));
  }
}
