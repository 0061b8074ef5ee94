package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.agent.error.MigrationFailure;
import io.ums.agent.image.Digest;
import io.ums.agent.image.ImageLayer;
import io.ums.agent.workload.WorkloadSpec;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The typed messages two agents exchange keep the JSON the sessions used to build by literal keys (an agent
 * of the previous build reads them), and read back what they wrote.
 */
class WireMessagesTest {
  private static final WorkloadSpec SPEC = new WorkloadSpec("svc", WorkloadSpec.KIND_PROCESS, null, null,
      List.of("/bin/svc", "7"), Map.of("A", "1"));

  @Test
  void processManifest() {
    RestoreManifest manifest = RestoreManifest.forProcess("m-1", "node-a", "w-1", SPEC, List.of("10.0.0.1"),
        List.of("0.0.0.0:80"), Optional.of(42L));
    JsonObject json = manifest.toJson();
    assertThat(json).isEqualTo(new JsonObject().put("migrationId", "m-1").put("sourceNode", "node-a")
        .put("sourceWorkloadId", "w-1").put("spec", WorkloadSpecJson.encode(SPEC))
        .put("tcpLocalAddresses", new JsonArray().add("10.0.0.1"))
        .put("tcpListenAddresses", new JsonArray().add("0.0.0.0:80")).put("outputPipeInode", 42L));
    assertThat(RestoreManifest.fromJson(json)).isEqualTo(manifest);
  }

  @Test
  void containerAndKubeletManifests() {
    RestoreManifest container = RestoreManifest.forWorkload("m-2", "node-a", "c-1", SPEC);
    assertThat(container.toJson().fieldNames())
        .containsExactlyInAnyOrder("migrationId", "sourceNode", "sourceWorkloadId", "spec");
    assertThat(RestoreManifest.fromJson(container.toJson())).isEqualTo(container);

    KubeletTarget target = new KubeletTarget("ns", "pod", "app");
    RestoreManifest kubelet = RestoreManifest.forKubelet("m-3", "node-a", target, 1234, true);
    assertThat(kubelet.toJson()).isEqualTo(new JsonObject().put("migrationId", "m-3").put("sourceNode", "node-a")
        .put("kubelet", target.toJson()).put("archiveBytes", 1234L).put("keep", true));
    assertThat(RestoreManifest.fromJson(kubelet.toJson())).isEqualTo(kubelet);
  }

  @Test
  void results() {
    assertThat(MigrationResult.restored("w-9", 12L).toJson())
        .isEqualTo(new JsonObject().put("workloadId", "w-9").put("restoreMs", 12L).put("ok", true));
    assertThat(MigrationResult.imported("localhost/x:1", 5L).toJson())
        .isEqualTo(new JsonObject().put("checkpointImage", "localhost/x:1").put("restoreMs", 5L).put("ok", true));
    MigrationFailure failure = MigrationFailure.of(MigrationFailure.Code.RESTORE_FAILED, "criu restore failed");
    JsonObject failed = MigrationResult.failed(failure).toJson();
    assertThat(failed).isEqualTo(new JsonObject().put("error", failure.toJson()).put("ok", false));
    assertThat(MigrationResult.fromJson(failed).failure()).isEqualTo(failure);
    assertThat(MigrationResult.fromJson(MigrationResult.restored("w-9", 12L).toJson()))
        .isEqualTo(MigrationResult.restored("w-9", 12L));
  }

  @Test
  void imageOfferAndWantedLayers() {
    ImageLayer layer = new ImageLayer(Digest.parse("sha256:" + "ab".repeat(32)), 2048);
    ImageOffer offer = new ImageOffer("busybox", "{\"m\":1}", "{\"c\":1}", List.of(layer));
    assertThat(offer.toJson()).isEqualTo(new JsonObject().put("image", "busybox").put("manifest", "{\"m\":1}")
        .put("config", "{\"c\":1}").put("layers", new JsonArray().add(layer.toJson())));
    assertThat(ImageOffer.fromJson(offer.toJson())).isEqualTo(offer);
    JsonObject wanted = ImageOffer.wanted(List.of(layer.digest().toString()));
    assertThat(wanted).isEqualTo(new JsonObject().put("missing", new JsonArray().add(layer.digest().toString())));
    assertThat(ImageOffer.wantedDigests(wanted)).containsExactly(layer.digest().toString());
  }
}
