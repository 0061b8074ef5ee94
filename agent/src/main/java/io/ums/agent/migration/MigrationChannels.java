package io.ums.agent.migration;

/**
 * The channel kinds two agents exchange on one migration connection (the source opens odd ids, the
 * destination even ones). In order: the dump's page-server stream and the page server's answers, one
 * channel per image file, the restore request with its manifest, and the destination's result.
 */
final class MigrationChannels {
  /** source -> destination: the bytes {@code criu dump} sends its page server. */
  static final String PAGES = "criu-pages";
  /** destination -> source: the bytes the page server answers (open acks, the final flush status). */
  static final String PAGES_REPLY = "criu-pages-reply";
  /** source -> destination: one image file, metadata {"name"}. */
  static final String IMAGE = "criu-image";
  /** source -> destination: every image sent; metadata is the manifest; no body. */
  static final String RESTORE = "restore";
  /**
   * source -> destination: a kubelet checkpoint archive, metadata {"name", "size"}; the destination turns it
   * into a checkpoint image after the restore request.
   */
  static final String KUBELET_ARCHIVE = "kubelet-checkpoint-archive";
  /**
   * destination -> source: metadata {"ok", "workloadId", "restoreMs", "error"} (a kubelet migration:
   * "checkpointImage" instead of "workloadId"); no body.
   */
  static final String RESULT = "result";

  private MigrationChannels() {}
}
