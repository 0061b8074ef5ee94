package io.ums.agent.container;

import io.ums.agent.image.ImageRoutes;
import io.ums.agent.image.ImageService;
import io.ums.agent.image.LayerCache;
import io.ums.agent.image.OciImageStore;
import io.ums.agent.workload.Workloads;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The container half of an agent: its OCI image store, the runc containers, and the registry that joins
 * them to the process workloads. The agent runs in its node's network namespace, so containers (which get
 * none of their own) answer on the node's address.
 */
public record ContainerSupport(ImageService images, ContainerWorkloads containers, WorkloadsByKind workloads) {
  private static final Logger LOG = LoggerFactory.getLogger(ContainerSupport.class);

  /** Opens the store under {@code workDir} and finds the containers a previous agent run left running. */
  public static Future<ContainerSupport> start(Vertx vertx, Path workDir, Workloads processes) {
    return vertx.executeBlocking(() -> {
      OciImageStore store = ImageService.openStore(workDir);
      LayerCache layers = ImageService.openLayerCache(store, workDir);
      ContainerWorkloads containers = new ContainerWorkloads(vertx, store, layers, workDir, null);
      return new ContainerSupport(new ImageService(vertx, store, layers, containers::usesImage), containers,
          new WorkloadsByKind(processes, containers));
    }, false).compose(support -> support.containers().recover().map(found -> {
      if (!found.isEmpty()) {
        LOG.info("found {} container(s) still running from a previous agent run", found.size());
      }
      return support;
    }));
  }

  /** Adds /v1/images to the control API. */
  public void mountRoutes(Router router) {
    new ImageRoutes(images).mount(router);
  }
}
