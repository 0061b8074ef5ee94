package io.ums.agent.migration;

/**
 * The channel kinds a container migration adds to {@link MigrationChannels}. In order: the source offers the
 * image (manifest, config, layer digests) before freezing; the destination answers which layers it lacks;
 * the source streams only those, each verified against its digest on arrival; after the dump, the runtime's
 * own checkpoint files and the writable layer's diff follow.
 */
final class ContainerChannels {
  /** source -> destination: metadata {"image", "manifest", "config", "layers": [{"digest", "size"}]}; no body. */
  static final String IMAGE_OFFER = "container-image-offer";
  /** destination -> source: metadata {"missing": [digest...]}; no body. */
  static final String LAYERS_WANTED = "container-layers-wanted";
  /** source -> destination: one layer blob, metadata {"digest", "size"}. */
  static final String LAYER = "container-layer";
  /** source -> destination: the writable layer as an OCI layer diff tar (whiteouts included). */
  static final String LAYER_DIFF = "container-layer-diff";
  /** source -> destination: a runtime checkpoint file that is not a CRIU image (runc's descriptors.json). */
  static final String RUNTIME_FILE = "container-runtime-file";

  /** source -> destination: podman's exported checkpoint archive, streamed as podman writes it. */
  static final String CHECKPOINT_ARCHIVE = "container-checkpoint-archive";

  private ContainerChannels() {}
}
