package io.ums.agent.kubelet;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.agent.error.MigrationFailure;
import io.ums.agent.image.CheckpointImages;
import io.ums.testkit.TestCertificates;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kubelet client against a MOCK kubelet (a plain Vert.x HTTP server: a real kubelet cannot run here; the
 * TLS, token and real-checkpoint path is covered by KubeletMigrationTest): the request it makes and how the
 * kubelet's failures read.
 */
@ExtendWith(VertxExtension.class)
class KubeletClientTest {
  @TempDir
  Path dir;

  private KubeletSettings settings(String url, Path token) {
    return new KubeletSettings(Optional.of(URI.create(url)), Optional.ofNullable(token), Optional.empty(), false,
        dir, CheckpointImages.parse(CheckpointImages.CONTAINERS_STORAGE), Duration.ofSeconds(30));
  }

  @Test
  void postsToTheCheckpointPathWithTheTokenAndReturnsTheArchivePath(Vertx vertx, VertxTestContext test)
      throws Exception {
    Path token = Files.writeString(dir.resolve("token"), "tok-1\n");
    AtomicReference<String> seen = new AtomicReference<>();
    HttpServer kubelet = vertx.createHttpServer().requestHandler(request -> {
      seen.set(request.method() + " " + request.uri() + " " + request.getHeader("Authorization"));
      request.response().end("{\"items\":[\"/var/lib/kubelet/checkpoints/checkpoint-a.tar\"]}");
    });
    kubelet.listen(0, "127.0.0.1").compose(server -> KubeletClient.create(vertx,
            settings("http://127.0.0.1:" + server.actualPort(), token)).checkpoint("ns-1", "web", "app"))
        .onComplete(test.succeeding(path -> test.verify(() -> {
          assertThat(path).isEqualTo("/var/lib/kubelet/checkpoints/checkpoint-a.tar");
          assertThat(seen.get()).isEqualTo("POST /checkpoint/ns-1/web/app?timeout=30 Bearer tok-1");
          test.completeNow();
        })));
  }

  @Test
  void aKubeletErrorKeepsItsMessage(Vertx vertx, VertxTestContext test) {
    vertx.createHttpServer().requestHandler(request -> request.response().setStatusCode(500)
            .end("checkpointing of default/web/app failed: rpc error: CRIU support not enabled"))
        .listen(0, "127.0.0.1")
        .compose(server -> KubeletClient.create(vertx, settings("http://127.0.0.1:" + server.actualPort(), null))
            .checkpoint("default", "web", "app"))
        .onComplete(test.failing(failure -> test.verify(() -> {
          MigrationFailure reason = ((MigrationFailure.Exception) failure).failure();
          assertThat(reason.code()).isEqualTo(MigrationFailure.Code.KUBELET_FAILED);
          assertThat(reason.message()).contains("(500", "CRIU support not enabled");
          test.completeNow();
        })));
  }

  @Test
  void aKubeletCertificateIsVerifiedUnlessInsecureTlsIsAsked(Vertx vertx, VertxTestContext test) {
    TestCertificates clusterCa = TestCertificates.authority(dir.resolve("pki"), "cluster-ca");
    Path cert = clusterCa.caCertificate();
    HttpServerOptions tls = clusterCa.server("kubelet", List.of("127.0.0.1")).applyTo(new HttpServerOptions());
    vertx.createHttpServer(tls).requestHandler(request -> request.response().end("{\"items\":[\"/a/b.tar\"]}"))
        .listen(0, "127.0.0.1")
        .compose(server -> {
          String url = "https://127.0.0.1:" + server.actualPort();
          KubeletSettings verifying = settings(url, null);
          KubeletSettings insecure = new KubeletSettings(verifying.url(), Optional.empty(), Optional.empty(), true,
              dir, verifying.checkpointImages(), verifying.timeout());
          KubeletSettings withCa = new KubeletSettings(verifying.url(), Optional.empty(), Optional.of(cert), false,
              dir, verifying.checkpointImages(), verifying.timeout());
          return KubeletClient.create(vertx, verifying).checkpoint("default", "web", "app")
              .transform(unverified -> {
                test.verify(() -> {
                  assertThat(unverified.failed()).as("a certificate no trusted CA signed").isTrue();
                  assertThat(((MigrationFailure.Exception) unverified.cause()).failure().code())
                      .isEqualTo(MigrationFailure.Code.KUBELET_UNREACHABLE);
                });
                return KubeletClient.create(vertx, insecure).checkpoint("default", "web", "app");
              })
              .compose(path -> KubeletClient.create(vertx, withCa).checkpoint("default", "web", "app"));
        })
        .onComplete(test.succeeding(path -> test.verify(() -> {
          assertThat(path).isEqualTo("/a/b.tar");
          test.completeNow();
        })));
  }

  @Test
  void anUnreachableKubeletSaysSo(Vertx vertx, VertxTestContext test) {
    KubeletClient.create(vertx, settings("https://127.0.0.1:1", null)).checkpoint("default", "web", "app")
        .onComplete(test.failing(failure -> test.verify(() -> {
          MigrationFailure reason = ((MigrationFailure.Exception) failure).failure();
          assertThat(reason.code()).isEqualTo(MigrationFailure.Code.KUBELET_UNREACHABLE);
          assertThat(reason.message()).contains("kubelet at https://127.0.0.1:1 unreachable");
          test.completeNow();
        })));
  }
}
