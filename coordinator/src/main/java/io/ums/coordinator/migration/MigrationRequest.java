package io.ums.coordinator.migration;

import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The body of POST /migrate and POST /migrations (and the query of GET /demo).
 *
 * @param destinationUrl the destination coordinator (this one for a migration inside the cluster)
 * @param approach the "interface" override: ff, runc, pind or kubelet; empty = chosen per workload
 * @param destinationNode optional: pin the destination node (local mode and tests)
 */
public record MigrationRequest(
    String name,
    String namespace,
    String destinationUrl,
    boolean keep,
    Optional<String> redirect,
    Optional<Approach> approach,
    Optional<String> destinationNode) {

  public static final String DEFAULT_NAMESPACE = "default";

  public static MigrationRequest fromJson(JsonObject body) {
    if (body == null) {
      throw MigrationException.badField("body", "expected a JSON object");
    }
    return parse(body.getMap()::get);
  }

  /** Query parameters are all strings; the same rules apply. */
  public static MigrationRequest fromParams(Map<String, String> params) {
    return parse(params::get);
  }

  private static MigrationRequest parse(Function<String, Object> field) {
    String name = requiredString(field, "name");
    String namespace = optionalString(field, "namespace").orElse(DEFAULT_NAMESPACE);
    String destinationUrl = url(field, "destinationUrl", true).orElseThrow();
    boolean keep = bool(field, "keep");
    Optional<String> redirect = url(field, "redirect", false);
    Optional<Approach> approach = optionalString(field, "interface").map(Approach::parse);
    Optional<String> destinationNode = optionalString(field, "destinationNode");
    return new MigrationRequest(
        name, namespace, destinationUrl, keep, redirect, approach, destinationNode);
  }

  public String workloadKey() {
    return namespace + "/" + name;
  }

  public JsonObject toJson() {
    JsonObject json =
        new JsonObject()
            .put("name", name)
            .put("namespace", namespace)
            .put("destinationUrl", destinationUrl)
            .put("keep", keep);
    redirect.ifPresent(r -> json.put("redirect", r));
    approach.ifPresent(a -> json.put("interface", a.wireName()));
    destinationNode.ifPresent(n -> json.put("destinationNode", n));
    return json;
  }

  private static String requiredString(Function<String, Object> field, String key) {
    return optionalString(field, key).orElseThrow(() -> MigrationException.badField(key, "is required"));
  }

  private static Optional<String> optionalString(Function<String, Object> field, String key) {
    Object value = field.apply(key);
    if (value == null) {
      return Optional.empty();
    }
    if (!(value instanceof String text)) {
      throw MigrationException.badField(key, "must be a string");
    }
    if (text.isBlank()) {
      throw MigrationException.badField(key, "must not be empty");
    }
    return Optional.of(MigrationException.checkedText(key, text).trim());
  }

  /** The original UMS sent "keep" as a string; "false" must mean false (a naive truthiness check says true). */
  private static boolean bool(Function<String, Object> field, String key) {
    Object value = field.apply(key);
    if (value == null) {
      return false;
    }
    if (value instanceof Boolean b) {
      return b;
    }
    if (value instanceof String text) {
      switch (text.trim().toLowerCase(java.util.Locale.ROOT)) {
        case "true":
          return true;
        case "false":
          return false;
        default:
          break;
      }
    }
    throw MigrationException.badField(key, "must be true or false");
  }

  private static Optional<String> url(Function<String, Object> field, String key, boolean required) {
    Optional<String> text =
        required ? Optional.of(requiredString(field, key)) : optionalString(field, key);
    text.ifPresent(
        value -> {
          try {
            URI uri = new URI(value);
            String scheme = uri.getScheme();
            if (scheme == null
                || !(scheme.equals("http") || scheme.equals("https"))
                || uri.getHost() == null) {
              throw MigrationException.badField(key, "must be an http(s) URL, got '" + value + "'");
            }
          } catch (java.net.URISyntaxException e) {
            throw MigrationException.badField(key, "is not a URL: " + e.getReason());
          }
        });
    return text.map(value -> value.endsWith("/") ? value.substring(0, value.length() - 1) : value);
  }
}
