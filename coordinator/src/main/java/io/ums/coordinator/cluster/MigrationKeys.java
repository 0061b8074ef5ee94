package io.ums.coordinator.cluster;

/** Names shared by the clusters: workload keys and the annotations that lock a pod. */
public final class MigrationKeys {
  public static final String ANNOTATION_MIGRATION_ID = "ums.io/migration-id";
  public static final String ANNOTATION_MIGRATION_STEP = "ums.io/migration-step";
  /** On a destination pod: the migration that created it (the restore entrypoint looks for it). */
  public static final String ANNOTATION_RESTORE_FROM = "ums.io/restore-from";
  /** On a locked source pod: the approach (interface) of the migration, so a restarted coordinator knows it. */
  public static final String ANNOTATION_MIGRATION_INTERFACE = "ums.io/migration-interface";
  /**
   * On a destination pod until its migration is settled: the migration id. A restarted coordinator
   * lists pods by it to settle migrations it no longer knows about.
   */
  public static final String LABEL_DESTINATION_OF = "ums.io/destination-of";
  /** On a destination pod until its migration is settled: RESERVED, then COMMITTED (the agents finished). */
  public static final String ANNOTATION_DESTINATION_STEP = "ums.io/destination-step";
  /** On a destination pod: the source pod, namespace/name. */
  public static final String ANNOTATION_SOURCE_POD = "ums.io/source-pod";
  public static final String STEP_RESERVED = "RESERVED";
  public static final String STEP_COMMITTED = "COMMITTED";
  /** Label put on a destination pod so a Service can select exactly that pod after a redirect. */
  public static final String LABEL_INSTANCE = "ums.io/instance";

  private MigrationKeys() {}

  public static String key(String namespace, String name) {
    return namespace + "/" + name;
  }
}
