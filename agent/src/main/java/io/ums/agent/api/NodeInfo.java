package io.ums.agent.api;

import io.ums.agent.criu.CriuInstallation;
import io.ums.agent.kubelet.KubeletSettings;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Locale;

/** What GET /v1/info says about this node besides CRIU: the coordinator checks compatibility with it. */
public record NodeInfo(String node, String arch, String kernel, String dataAddress, List<String> runtimes,
                       KubeletSettings kubelet) {
  public NodeInfo {
    runtimes = List.copyOf(runtimes);
  }

  /** This machine, with arch in uname's spelling (x86_64, aarch64) rather than Java's (amd64). */
  public static NodeInfo local(String node, String dataAddress, List<String> runtimes, KubeletSettings kubelet) {
    String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
    if (arch.equals("amd64")) {
      arch = "x86_64";
    }
    return new NodeInfo(node, arch, System.getProperty("os.version"), dataAddress, runtimes, kubelet);
  }

  public JsonObject toJson(CriuInstallation criu) {
    return new JsonObject()
        .put("node", node)
        .put("arch", arch)
        .put("kernel", kernel)
        .put("criu", criu.toJson())
        .put("dataAddress", dataAddress)
        .put("runtimes", new JsonArray(runtimes))
        .put("kubelet", kubelet.infoJson())
        .put("checkpointImages", kubelet.checkpointImages().toString());
  }
}
