package io.ums.bench.images;

import io.ums.host.HostCommand;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The podman calls of the image smoke tests. Every container and network it makes is named with
 * {@link #PREFIX} plus a random suffix, so {@link #leftovers()} and {@link #removeAll()} find exactly this
 * test's objects and no other helper's.
 */
final class Podman {
  static final String PREFIX = "umsimg";

  private Podman() {}

  static boolean installed() {
    return HostCommand.run("podman", "--version").ok();
  }

  static String uniqueName(String role) {
    return PREFIX + "-" + role + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
  }

  static HostCommand.Result run(List<String> arguments) {
    List<String> command = new ArrayList<>(List.of("podman"));
    command.addAll(arguments);
    return HostCommand.run(command);
  }

  static String check(String... arguments) {
    List<String> command = new ArrayList<>(List.of("podman"));
    command.addAll(List.of(arguments));
    return HostCommand.check(command.toArray(String[]::new));
  }

  static JsonObject inspectState(String container) {
    return new JsonObject(check("inspect", "--format", "{{json .State}}", container));
  }

  /**
   * A bridge network of this test's own: bridge {@code umsimg<hex>} on a random 10.217.y.0/24, so neither the
   * bridge name nor the subnet can clash with podman's default network or another helper's namespaces.
   */
  static String createNetwork() throws IOException {
    String suffix = Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
    String name = PREFIX + "-net-" + suffix;
    String bridge = PREFIX + suffix; // at most 12 characters
    String subnet = "10.217." + ThreadLocalRandom.current().nextInt(20, 250) + ".0/24";
    String backend = check("info", "--format", "{{.Host.NetworkBackend}}");
    if (!"cni".equals(backend)) {
      check("network", "create", "--interface-name", bridge, "--subnet", subnet, name);
      return name;
    }
    // podman 4.3 (bookworm) with CNI has no --interface-name: name the bridge in the network's conflist
    check("network", "create", "--subnet", subnet, name);
    Path conflist = Path.of("/etc/cni/net.d", name + ".conflist");
    JsonObject config = new JsonObject(Files.readString(conflist));
    config.getJsonArray("plugins").getJsonObject(0).put("bridge", bridge).put("ipMasq", false);
    Files.writeString(conflist, config.encodePrettily());
    return name;
  }

  /** Containers (running or not) and networks with this test's prefix. */
  static List<String> leftovers() {
    List<String> found = new ArrayList<>();
    check("ps", "-a", "--format", "{{.Names}}").lines().filter(n -> n.startsWith(PREFIX)).forEach(found::add);
    check("network", "ls", "--format", "{{.Name}}").lines().filter(n -> n.startsWith(PREFIX)).forEach(found::add);
    return found;
  }

  static void printLogTails() {
    check("ps", "-a", "--format", "{{.Names}}").lines().filter(n -> n.startsWith(PREFIX)).forEach(container ->
        System.out.println("[" + container + "] " + run(List.of("logs", "--tail", "15", container)).output()
            .replace("\n", "\n[" + container + "] ")));
  }

  static void removeAll() {
    check("ps", "-a", "--format", "{{.Names}}").lines().filter(n -> n.startsWith(PREFIX))
        .forEach(container -> run(List.of("rm", "--force", "--time", "5", container)));
    check("network", "ls", "--format", "{{.Name}}").lines().filter(n -> n.startsWith(PREFIX))
        .forEach(network -> run(List.of("network", "rm", "--force", network)));
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
