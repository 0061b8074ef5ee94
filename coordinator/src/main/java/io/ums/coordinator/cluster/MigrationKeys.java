package io.ums.coordinator.cluster;

/** Names shared by the clusters: workload keys and the annotations that lock a pod. */
public final class MigrationKeys {
  public static final String ANNOTATION_MIGRATION_ID = "ums.io/migration-id";
  public static final String ANNOTATION_MIGRATION_STEP = "ums.io/migration-step";
  /** On a destination pod: the migration that created it (the restore entrypoint looks for it). */
  public static final String ANNOTATION_RESTORE_FROM = "ums.io/restore-from";
  /** Label put on a destination pod so a Service can select exactly that pod after a redirect. */
  public static final String LABEL_INSTANCE = "ums.io/instance";

  private MigrationKeys() {}

  public static String key(String namespace, String name) {
    return namespace + "/" + name;
  }
}
