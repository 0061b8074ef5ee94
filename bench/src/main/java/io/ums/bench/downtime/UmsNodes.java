package io.ums.bench.downtime;

import io.ums.bench.local.Cleanup;
import io.ums.bench.local.UmsApi;
import io.ums.bench.local.UmsCluster;
import io.ums.bench.local.UmsJars;
import java.nio.file.Path;

/**
 * The agents and the coordinator the ums methods share on the bench's testbed: started once, on first use,
 * from the built jars; if they cannot start, every later use fails with that reason.
 */
final class UmsNodes {
  private final Path workDir;
  private final Path logDir;
  private final Cleanup cleanup;
  private UmsApi api;
  private RuntimeException startFailure;

  UmsNodes(Path workDir, Path logDir, Cleanup cleanup) {
    this.workDir = workDir;
    this.logDir = logDir;
    this.cleanup = cleanup;
  }

  UmsApi api(BenchContext context) {
    if (startFailure != null) {
      throw startFailure;
    }
    if (api == null) {
      try {
        context.progress().phase("starting two agents and a coordinator");
        UmsCluster cluster = UmsCluster.start(context.testbed(), UmsJars.locate(), workDir, logDir, cleanup,
            context.http());
        api = new UmsApi(cluster, context.http());
      } catch (RuntimeException e) {
        startFailure = new IllegalStateException("UMS agents/coordinator did not start: " + e.getMessage(), e);
        throw startFailure;
      }
    }
    return api;
  }
}
