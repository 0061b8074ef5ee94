package io.ums.agent.api;

import io.ums.agent.error.AgentException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads typed fields out of a request body, failing with a 400 that names the field by its full path
 * (e.g. {@code destination.address}). {@code prefix} is the path of the object being read ("" at top).
 */
final class JsonFields {
  private final JsonObject json;
  private final String prefix;

  JsonFields(JsonObject json, String prefix) {
    this.json = json;
    this.prefix = prefix;
  }

  static JsonFields of(JsonObject json) {
    return new JsonFields(json, "");
  }

  String path(String field) {
    return prefix + field;
  }

  String requiredString(String field) {
    String value = optionalString(field);
    if (value == null) {
      throw AgentException.badField(path(field), "required, a non-empty string");
    }
    return value;
  }

  /** The string, or null when absent or JSON null; a present value must be a non-blank string. */
  String optionalString(String field) {
    Object value = json.getValue(field);
    if (value == null) {
      return null;
    }
    if (!(value instanceof String text) || text.isBlank()) {
      throw AgentException.badField(path(field), "must be a non-empty string, got " + describe(value));
    }
    return withoutNul(path(field), text);
  }

  String optionalOneOf(String field, Set<String> allowed, String fallback) {
    String value = optionalString(field);
    if (value == null) {
      return fallback;
    }
    if (!allowed.contains(value)) {
      throw AgentException.badField(path(field), "must be one of " + allowed + ", got \"" + value + "\"");
    }
    return value;
  }

  boolean optionalBoolean(String field, boolean fallback) {
    Object value = json.getValue(field);
    if (value == null) {
      return fallback;
    }
    if (!(value instanceof Boolean flag)) {
      throw AgentException.badField(path(field), "must be true or false, got " + describe(value));
    }
    return flag;
  }

  /** A non-empty array of strings whose first element is non-empty (a program); later ones may be "". */
  List<String> requiredCommand(String field) {
    Object value = json.getValue(field);
    if (!(value instanceof JsonArray array) || array.isEmpty()) {
      throw AgentException.badField(path(field), "required, a non-empty array of strings, got "
          + (value instanceof JsonArray ? "an empty array" : describe(value)));
    }
    List<String> strings = new ArrayList<>(array.size());
    for (int i = 0; i < array.size(); i++) {
      Object element = array.getValue(i);
      // real programs take empty arguments (redis-server --save ""), but not an empty program name
      if (!(element instanceof String text) || (i == 0 && text.isEmpty())) {
        throw AgentException.badField(path(field) + "[" + i + "]", "must be a " + (i == 0 ? "non-empty " : "")
            + "string, got " + describe(element));
      }
      strings.add(withoutNul(path(field) + "[" + i + "]", text));
    }
    return strings;
  }

  Map<String, String> optionalStringMap(String field) {
    Object value = json.getValue(field);
    Map<String, String> map = new LinkedHashMap<>();
    if (value == null) {
      return map;
    }
    if (!(value instanceof JsonObject object)) {
      throw AgentException.badField(path(field), "must be an object of strings, got " + describe(value));
    }
    for (Map.Entry<String, Object> entry : object) {
      if (entry.getKey().indexOf('\0') >= 0) {
        throw AgentException.badField(path(field), "a variable name must not contain a NUL byte");
      }
      if (entry.getKey().isEmpty() || entry.getKey().contains("=")) {
        throw AgentException.badField(path(field), "invalid variable name \"" + entry.getKey() + "\"");
      }
      if (!(entry.getValue() instanceof String text)) {
        throw AgentException.badField(path(field) + "." + entry.getKey(), "must be a string, got "
            + describe(entry.getValue()));
      }
      map.put(entry.getKey(), withoutNul(path(field) + "." + entry.getKey(), text));
    }
    return map;
  }

  /**
   * Arguments, environment and names reach execve and the file system as C strings, which end at the first
   * NUL: a value carrying one cannot be passed on (the JVM refuses it with an exception).
   */
  private static String withoutNul(String path, String text) {
    if (text.indexOf('\0') >= 0) {
      throw AgentException.badField(path, "must not contain a NUL byte (at index " + text.indexOf('\0') + ")");
    }
    return text;
  }

  JsonFields requiredObject(String field) {
    Object value = json.getValue(field);
    if (!(value instanceof JsonObject object)) {
      throw AgentException.badField(path(field), "required, an object, got " + describe(value));
    }
    return new JsonFields(object, path(field) + ".");
  }

  private static String describe(Object value) {
    if (value == null) {
      return "nothing";
    }
    if (value instanceof JsonArray) {
      return "an array";
    }
    if (value instanceof JsonObject) {
      return "an object";
    }
    if (value instanceof String text) {
      return "\"" + text + "\"";
    }
    return value.getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT) + " " + value;
  }
}
