package io.ums.agent.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.ums.agent.error.AgentException;
import io.ums.agent.error.ApiError;
import io.ums.agent.workload.WorkloadSpec;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Body validation: every wrong or missing field answers 400 with a message that names it. */
class RequestBodiesTest {
  private static JsonObject validWorkload() {
    return new JsonObject().put("name", "svc-1").put("command", new JsonArray().add("/bin/sleep").add("60"))
        .put("env", new JsonObject().put("A", "1"));
  }

  private static JsonObject validSend() {
    return new JsonObject().put("workloadId", "w-1").put("destination", new JsonObject()
        .put("address", "10.0.0.2:7071").put("sessionId", "s-1").put("token", "dG9rZW4="));
  }

  @Test
  void aValidWorkloadBodyBecomesAProcessSpec() {
    WorkloadSpec spec = RequestBodies.workloadSpec(validWorkload());
    assertThat(spec.kind()).isEqualTo("process");
    assertThat(spec.command()).containsExactly("/bin/sleep", "60");
    assertThat(spec.env()).containsEntry("A", "1");
  }

  @Test
  void anEmptyArgumentIsKept() {
    JsonObject body = validWorkload().put("command", new JsonArray().add("/usr/bin/redis-server").add("--save").add(""));
    assertThat(RequestBodies.workloadSpec(body).command()).containsExactly("/usr/bin/redis-server", "--save", "");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "name    | null          | name: required",
      "name    | 42            | name: must be a non-empty string, got integer 42",
      "name    | '\"a/b\"'     | name: letters",
      "command | null          | command: required",
      "command | []            | command: required, a non-empty array of strings, got an empty array",
      "command | '[\"/x\", 3]' | command[1]: must be a string, got integer 3",
      "command | '[\"\", \"x\"]' | command[0]: must be a non-empty string",
      "command | '\"/bin/x\"'  | command: required, a non-empty array",
      "env     | '[]'          | env: must be an object of strings",
      "env     | '{\"A\":1}'   | env.A: must be a string",
      "kind    | '\"vm\"'      | kind: must be one of",
      "runtime | '\"docker\"'  | runtime: must be one of",
      "user    | '\"\"'          | user: must be a non-empty string",
      "user    | 101           | user: must be a non-empty string, got integer 101",
      "user    | '\"a\\u0000b\"' | user: ",
      "user    | '\"bob smith\"' | user: a user name or a numeric uid[:gid], got \"bob smith\"",
      "user    | '\"101:\"'      | user: a user name or a numeric uid[:gid]",
      "user    | '\"-1\"'        | user: a user name or a numeric uid[:gid]",
  })
  void aBadWorkloadFieldIsNamed(String field, String json, String message) {
    JsonObject body = validWorkload();
    body.put(field, json.equals("null") ? null : io.vertx.core.json.Json.decodeValue(json));
    assertThatThrownBy(() -> RequestBodies.workloadSpec(body))
        .isInstanceOfSatisfying(AgentException.class, e -> assertThat(e.error()).isEqualTo(ApiError.BAD_REQUEST))
        .hasMessageStartingWith(message);
  }

  @Test
  void aUserIsKeptAsGiven() {
    assertThat(RequestBodies.workloadSpec(validWorkload()).user()).isEmpty();
    assertThat(RequestBodies.workloadSpec(validWorkload().put("user", "postgres")).user()).contains("postgres");
    assertThat(RequestBodies.workloadSpec(validWorkload().put("user", "101:104")).user()).contains("101:104");
    assertThat(RequestBodies.workloadSpec(validWorkload().put("user", "1001")).user()).contains("1001");
  }

  @Test
  void onlyAProcessRunsAsAUser() {
    JsonObject body = validWorkload().put("kind", "container").put("runtime", "runc").put("image", "busybox")
        .put("user", "postgres");
    assertThatThrownBy(() -> RequestBodies.workloadSpec(body)).hasMessageStartingWith("user: only for a process");
  }

  @Test
  void aContainerNeedsRuntimeAndImage() {
    JsonObject body = validWorkload().put("kind", "container");
    assertThatThrownBy(() -> RequestBodies.workloadSpec(body)).hasMessageStartingWith("runtime: required");
    body.put("runtime", "runc");
    assertThatThrownBy(() -> RequestBodies.workloadSpec(body)).hasMessageStartingWith("image: required");
    assertThat(RequestBodies.workloadSpec(body.put("image", "busybox")).runtime()).isEqualTo("runc");
  }

  @Test
  void sendFillsTheKeepDefault() {
    assertThat(RequestBodies.sendRequest(validSend()).getBoolean("keep")).isFalse();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "workloadId          | workloadId: required",
      "destination         | destination: required, an object",
      "destination.address | destination.address: required",
      "destination.sessionId | destination.sessionId: required",
      "destination.token   | destination.token: required",
  })
  void aMissingSendFieldIsNamed(String path, String message) {
    JsonObject body = validSend();
    if (path.startsWith("destination.")) {
      body.getJsonObject("destination").remove(path.substring("destination.".length()));
    } else {
      body.remove(path);
    }
    assertThatThrownBy(() -> RequestBodies.sendRequest(body)).hasMessageStartingWith(message);
  }

  @ParameterizedTest
  @CsvSource({"10.0.0.2", "10.0.0.2:0", "10.0.0.2:70000", "host:port", ":7071"})
  void aBadDestinationAddressIsNamed(String address) {
    JsonObject body = validSend();
    body.getJsonObject("destination").put("address", address);
    assertThatThrownBy(() -> RequestBodies.sendRequest(body))
        .hasMessageStartingWith("destination.address: must be host:port");
  }

  @Test
  void sendRejectsANonBooleanKeepAndReceiveAnUnknownKind() {
    assertThatThrownBy(() -> RequestBodies.sendRequest(validSend().put("keep", "yes")))
        .hasMessageStartingWith("keep: must be true or false");
    assertThatThrownBy(() -> RequestBodies.receiveRequest(new JsonObject().put("kind", "vm")))
        .hasMessageStartingWith("kind: must be one of");
    assertThat(RequestBodies.receiveRequest(new JsonObject()).getString("kind")).isEqualTo("process");
  }

  @Test
  void aKubeletSendNamesThePodsContainerInsteadOfAWorkload() {
    JsonObject kubelet = new JsonObject().put("namespace", "default").put("pod", "web").put("container", "app");
    JsonObject body = validSend();
    body.remove("workloadId");
    assertThat(RequestBodies.sendRequest(body.copy().put("kubelet", kubelet)).getJsonObject("kubelet"))
        .isEqualTo(kubelet);
    assertThatThrownBy(() -> RequestBodies.sendRequest(validSend().put("kubelet", kubelet)))
        .hasMessageStartingWith("kubelet: give either workloadId or kubelet, not both");
    assertThatThrownBy(() -> RequestBodies.sendRequest(body.copy().put("kubelet", kubelet.copy().put("pod", ""))))
        .hasMessageStartingWith("kubelet.pod: must be a non-empty string");
    assertThatThrownBy(() -> RequestBodies.sendRequest(body.copy().put("kubelet", "web")))
        .hasMessageStartingWith("kubelet: required, an object");
    assertThat(RequestBodies.receiveRequest(new JsonObject().put("kind", "checkpoint")).getString("kind"))
        .isEqualTo("checkpoint");
  }

  @Test
  void theModeDefaultsToStopAndCopyAndPostCopyIsTaken() {
    assertThat(RequestBodies.sendRequest(validSend()).getString("mode")).isEqualTo("stop-and-copy");
    assertThat(RequestBodies.sendRequest(validSend().put("mode", "post-copy")).getString("mode")).isEqualTo("post-copy");
    assertThat(RequestBodies.receiveRequest(new JsonObject()).getString("mode")).isEqualTo("stop-and-copy");
    assertThat(RequestBodies.receiveRequest(new JsonObject().put("mode", "post-copy")).getString("mode"))
        .isEqualTo("post-copy");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "send    | '{\"mode\": \"pre-copy\"}'                  | mode: must be one of",
      "send    | '{\"mode\": \"post-copy\", \"keep\": true}' | mode: post-copy moves a workload; it cannot keep",
      "receive | '{\"mode\": \"auto\"}'                      | mode: must be one of",
      "receive | '{\"mode\": \"post-copy\", \"kind\": \"checkpoint\"}' | mode: post-copy moves process trees and runc containers",
  })
  void aBadModeIsNamed(String request, String json, String message) {
    JsonObject fields = new JsonObject(json);
    JsonObject body = request.equals("send") ? validSend().mergeIn(fields) : fields;
    assertThatThrownBy(() -> {
      if (request.equals("send")) {
        RequestBodies.sendRequest(body);
      } else {
        RequestBodies.receiveRequest(body);
      }
    }).isInstanceOfSatisfying(AgentException.class, e -> assertThat(e.error()).isEqualTo(ApiError.BAD_REQUEST))
        .hasMessageContaining(message);
  }
}
