package io.ums.agent.container;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The OCI runtime {@code config.json} of a UMS container: its own PID, mount, IPC and UTS namespaces but
 * <em>no</em> network namespace, so the service shares its node's network namespace and answers on the
 * node's address (and a restored container lands in the destination node's one). Mounts, masks and
 * capabilities follow {@code runc spec}'s defaults.
 */
public final class OciRuntimeSpec {
  private static final List<String> CAPABILITIES = List.of("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE",
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
      "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_SETFCAP");

  private OciRuntimeSpec() {}

  /**
   * @param imageEnv {@code K=V} entries from the image config, overridden by {@code env}
   * @param criuConfig a CRIU configuration file for runc checkpoint/restore of this bundle, or null
   */
  public static JsonObject build(String hostname, List<String> command, List<String> imageEnv,
                                 Map<String, String> env, java.nio.file.Path criuConfig) {
    Map<String, String> merged = new TreeMap<>();
    for (String entry : imageEnv) {
      int eq = entry.indexOf('=');
      if (eq > 0) {
        merged.put(entry.substring(0, eq), entry.substring(eq + 1));
      }
    }
    merged.putAll(env);
    merged.putIfAbsent("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    JsonArray envArray = new JsonArray();
    merged.forEach((key, value) -> envArray.add(key + "=" + value));
    JsonArray caps = new JsonArray(List.copyOf(CAPABILITIES));

    JsonObject process = new JsonObject()
        .put("terminal", false)
        .put("user", new JsonObject().put("uid", 0).put("gid", 0))
        .put("args", new JsonArray(List.copyOf(command)))
        .put("env", envArray)
        .put("cwd", "/")
        .put("capabilities", new JsonObject().put("bounding", caps).put("effective", caps.copy())
            .put("permitted", caps.copy()).put("ambient", caps.copy()))
        .put("rlimits", new JsonArray().add(new JsonObject().put("type", "RLIMIT_NOFILE").put("hard", 1024)
            .put("soft", 1024)))
        .put("noNewPrivileges", true);

    JsonArray namespaces = new JsonArray();
    for (String type : List.of("pid", "ipc", "uts", "mount")) {
      namespaces.add(new JsonObject().put("type", type));
    }
    JsonObject linux = new JsonObject()
        .put("namespaces", namespaces)
        .put("resources", new JsonObject().put("devices",
            new JsonArray().add(new JsonObject().put("allow", false).put("access", "rwm"))))
        .put("maskedPaths", new JsonArray(List.of("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
            "/proc/scsi")))
        .put("readonlyPaths", new JsonArray(List.of("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
            "/proc/sysrq-trigger")));

    JsonObject annotations = new JsonObject();
    if (criuConfig != null) {
      // runc hands this file to CRIU, whose settings then override runc's own (e.g. tcp-close on restore)
      annotations.put("org.criu.config", criuConfig.toString());
    }
    return new JsonObject()
        .put("ociVersion", "1.0.2-dev")
        .put("annotations", annotations)
        .put("process", process)
        .put("root", new JsonObject().put("path", "rootfs").put("readonly", false))
        .put("hostname", hostname)
        .put("mounts", mounts())
        .put("linux", linux);
  }

  private static JsonArray mounts() {
    return new JsonArray()
        .add(mount("/proc", "proc", "proc", List.of()))
        .add(mount("/dev", "tmpfs", "tmpfs", List.of("nosuid", "strictatime", "mode=755", "size=65536k")))
        .add(mount("/dev/pts", "devpts", "devpts", List.of("nosuid", "noexec", "newinstance", "ptmxmode=0666",
            "mode=0620", "gid=5")))
        .add(mount("/dev/shm", "tmpfs", "shm", List.of("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")))
        .add(mount("/dev/mqueue", "mqueue", "mqueue", List.of("nosuid", "noexec", "nodev")))
        .add(mount("/sys", "sysfs", "sysfs", List.of("nosuid", "noexec", "nodev", "ro")));
  }

  private static JsonObject mount(String destination, String type, String source, List<String> options) {
    JsonObject mount = new JsonObject().put("destination", destination).put("type", type).put("source", source);
    if (!options.isEmpty()) {
      mount.put("options", new JsonArray(List.copyOf(options)));
    }
    return mount;
  }
}
