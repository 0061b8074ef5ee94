package io.ums.agent.kubelet;

import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/**
 * The kubelet's checkpoint API (KEP-2008): {@code POST /checkpoint/{namespace}/{pod}/{container}} on the
 * kubelet port writes a checkpoint archive of the running container (which goes on running) and answers
 * {@code {"items":["<archive path>"]}}. Every failure becomes a {@link MigrationFailure} whose message says
 * what to fix: the kubelet unreachable, the agent's credentials refused, the pod unknown or the feature
 * gate off, or the kubelet's own error.
 */
public final class KubeletClient {
  private static final int CONNECT_TIMEOUT_MILLIS = 10_000;
  private static final int MAX_MESSAGE_CHARS = 500;

  private final Vertx vertx;
  private final KubeletSettings settings;
  private final URI url;
  private final WebClient client;

  private KubeletClient(Vertx vertx, KubeletSettings settings, WebClient client) {
    this.vertx = vertx;
    this.settings = settings;
    this.url = settings.url().orElseThrow(() -> new IllegalArgumentException("no kubelet URL configured"));
    this.client = client;
  }

  public static KubeletClient create(Vertx vertx, KubeletSettings settings) {
    WebClientOptions options = new WebClientOptions().setConnectTimeout(CONNECT_TIMEOUT_MILLIS)
        .setUserAgent("ums-agent").setKeepAlive(false);
    if (settings.insecureTls()) {
      options.setTrustAll(true).setVerifyHost(false);
    } else {
      settings.caFile().ifPresent(ca -> options.setTrustOptions(new PemTrustOptions().addCertPath(ca.toString())));
    }
    return new KubeletClient(vertx, settings, WebClient.create(vertx, options));
  }

  /** Checkpoints the container; completes with the archive path as the kubelet reported it (its file system). */
  public Future<String> checkpoint(String namespace, String pod, String container) {
    String target = namespace + "/" + pod + "/" + container;
    String path = "/checkpoint/" + segment(namespace) + "/" + segment(pod) + "/" + segment(container)
        + "?timeout=" + settings.timeout().toSeconds();
    return token()
        .compose(token -> {
          HttpRequest<Buffer> request = client.requestAbs(HttpMethod.POST, url.resolve(path).toString())
              .idleTimeout(settings.timeout().toMillis() + CONNECT_TIMEOUT_MILLIS);
          if (token != null) {
            request.bearerTokenAuthentication(token);
          }
          return request.send().recover(failure -> Future.failedFuture(new MigrationFailure.Exception(
              Code.KUBELET_UNREACHABLE, "kubelet at " + url + " unreachable: " + describe(failure))));
        })
        .compose(response -> archivePath(response, target));
  }

  public Future<Void> close() {
    client.close();
    return Future.succeededFuture();
  }

  private Future<String> token() {
    if (settings.tokenFile().isEmpty()) {
      return Future.succeededFuture(null);
    }
    String file = settings.tokenFile().get().toString();
    return vertx.fileSystem().readFile(file).map(bytes -> bytes.toString(StandardCharsets.UTF_8).strip())
        .recover(failure -> Future.failedFuture(new MigrationFailure.Exception(Code.KUBELET_FORBIDDEN,
            "cannot read the kubelet token file " + file + ": " + failure.getMessage())));
  }

  private Future<String> archivePath(HttpResponse<Buffer> response, String target) {
    int status = response.statusCode();
    String body = response.body() == null ? "" : abbreviate(response.body().toString(StandardCharsets.UTF_8));
    MigrationFailure failure = switch (status) {
      case 200 -> null;
      case 401 -> MigrationFailure.of(Code.KUBELET_FORBIDDEN, "kubelet rejected the agent's credentials (401"
          + " Unauthorized; check --kubelet-token-file): the agent's service account needs create on"
          + " nodes/checkpoint" + suffix(body));
      case 403 -> MigrationFailure.of(Code.KUBELET_FORBIDDEN, "kubelet refused the checkpoint of " + target
          + " (403 Forbidden): the agent's service account needs create on nodes/checkpoint" + suffix(body));
      case 404 -> MigrationFailure.of(Code.KUBELET_NOT_FOUND, "kubelet answered 404 for " + target + ": no such"
          + " pod/container on this node, or the kubelet's ContainerCheckpoint feature gate is off" + suffix(body));
      default -> MigrationFailure.of(Code.KUBELET_FAILED, "kubelet failed the checkpoint of " + target + " ("
          + status + (response.statusMessage() == null ? "" : " " + response.statusMessage()) + ")" + suffix(body));
    };
    if (failure != null) {
      return Future.failedFuture(new MigrationFailure.Exception(failure));
    }
    try {
      JsonArray items = new JsonObject(response.body()).getJsonArray("items", new JsonArray());
      if (!items.isEmpty() && items.getValue(0) instanceof String archive && !archive.isBlank()) {
        return Future.succeededFuture(archive);
      }
    } catch (DecodeException | ClassCastException e) {
      // answered below
    }
    return Future.failedFuture(new MigrationFailure.Exception(Code.KUBELET_FAILED, "kubelet answered 200 for "
        + target + " without an archive path in items: " + body));
  }

  private static String segment(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
  }

  private static String suffix(String body) {
    return body.isBlank() ? "" : ": " + body;
  }

  private static String abbreviate(String text) {
    String flat = text.strip().replaceAll("\\s+", " ");
    return flat.length() <= MAX_MESSAGE_CHARS ? flat : flat.substring(0, MAX_MESSAGE_CHARS) + "...";
  }

  private static String describe(Throwable failure) {
    String message = failure.getMessage();
    return failure.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }
}
