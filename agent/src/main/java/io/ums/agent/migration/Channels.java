package io.ums.agent.migration;

/**
 * The channel kinds two agents exchange on one migration connection (the source opens odd ids, the
 * destination even ones), every backend's. A process: the dump's page-server stream and the page server's
 * answers, one channel per image file, the restore request, the destination's result. A container adds the
 * image offer (before the freeze), the layers the destination lacks, the runtime's own files and the
 * writable layer; podman sends its checkpoint archive instead of pages; a kubelet migration sends the
 * kubelet's archive.
 */
final class Channels {
  /** source -> destination: the bytes {@code criu dump} sends its page server. */
  static final String PAGES = "criu-pages";
  /** destination -> source: the bytes the page server answers (open acks, the final flush status). */
  static final String PAGES_REPLY = "criu-pages-reply";
  /** source -> destination: one image file, metadata {"name"}. */
  static final String IMAGE = "criu-image";
  /** source -> destination: everything sent; metadata is the {@link RestoreManifest}; no body. */
  static final String RESTORE = "restore";
  /** destination -> source: metadata is the {@link MigrationResult}; no body. */
  static final String RESULT = "result";
  /** source -> destination: a kubelet checkpoint archive, metadata {"name", "size"}. */
  static final String KUBELET_ARCHIVE = "kubelet-checkpoint-archive";
  /** source -> destination: metadata is the {@link ImageOffer}; no body. */
  static final String IMAGE_OFFER = "container-image-offer";
  /** destination -> source: metadata {"missing": [digest...]} ({@link ImageOffer#wanted}); no body. */
  static final String LAYERS_WANTED = "container-layers-wanted";
  /** source -> destination: one layer blob, metadata {"digest", "size"}. */
  static final String LAYER = "container-layer";
  /** source -> destination: the writable layer as an OCI layer diff tar (whiteouts included). */
  static final String LAYER_DIFF = "container-layer-diff";
  /** source -> destination: a runtime checkpoint file that is not a CRIU image (runc's descriptors.json). */
  static final String RUNTIME_FILE = "container-runtime-file";
  /** source -> destination: podman's exported checkpoint archive, streamed as podman writes it. */
  static final String CHECKPOINT_ARCHIVE = "container-checkpoint-archive";

  private Channels() {}
}
