package io.ums.coordinator.cluster;

import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The static agent list of local mode, from {@code --agents node-a=http://…,node-b=http://…} or
 * from a YAML/JSON file: either a map {@code node-a: http://…} or
 * {@code agents: [{node: node-a, url: http://…}]}.
 */
public final class AgentList {
  private AgentList() {}

  public static List<AgentRef> parseFlag(String flag) {
    List<AgentRef> agents = new ArrayList<>();
    for (String entry : flag.split(",")) {
      if (entry.isBlank()) {
        continue;
      }
      int eq = entry.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("--agents: expected node=url, got '" + entry.trim() + "'");
      }
      agents.add(agent(entry.substring(0, eq).trim(), entry.substring(eq + 1).trim()));
    }
    return checked(agents, "--agents");
  }

  public static List<AgentRef> parseFile(Path file) throws IOException {
    // fabric8's serializer reads YAML and JSON alike (it is already on the class path for Kubernetes mode)
    Object root = new KubernetesSerialization().unmarshal(Files.readString(file), Map.class);
    List<AgentRef> agents = new ArrayList<>();
    if (root instanceof Map<?, ?> map && map.get("agents") instanceof List<?> list) {
      for (Object item : list) {
        if (!(item instanceof Map<?, ?> entry) || entry.get("node") == null || entry.get("url") == null) {
          throw new IllegalArgumentException(file + ": each agent needs node and url, got " + item);
        }
        agents.add(agent(entry.get("node").toString(), entry.get("url").toString()));
      }
    } else if (root instanceof Map<?, ?> map) {
      new LinkedHashMap<>(map).forEach((node, url) -> agents.add(agent(node.toString(), String.valueOf(url))));
    } else {
      throw new IllegalArgumentException(file + ": expected a map of node to URL or {agents: [...]}");
    }
    return checked(agents, file.toString());
  }

  private static AgentRef agent(String node, String url) {
    URI uri = URI.create(url);
    if (uri.getScheme() == null || uri.getHost() == null) {
      throw new IllegalArgumentException("agent " + node + ": '" + url + "' is not an http URL");
    }
    return new AgentRef(node, url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
  }

  private static List<AgentRef> checked(List<AgentRef> agents, String source) {
    if (agents.isEmpty()) {
      throw new IllegalArgumentException(source + ": no agents");
    }
    long distinct = agents.stream().map(AgentRef::node).distinct().count();
    if (distinct != agents.size()) {
      throw new IllegalArgumentException(source + ": a node is listed twice");
    }
    return List.copyOf(agents);
  }
}
