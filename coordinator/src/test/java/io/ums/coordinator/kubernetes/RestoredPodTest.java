package io.ums.coordinator.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pod a kubelet migration creates on the destination from the checkpoint images. */
class RestoredPodTest {
  @Test
  void initContainersDoNotRunAgainButNativeSidecarsStay() {
    Pod template = new PodBuilder().withNewMetadata().withName("api").withNamespace("default")
        .withLabels(new java.util.HashMap<>()).withAnnotations(new java.util.HashMap<>()).endMetadata()
        .withNewSpec()
        .addNewInitContainer().withName("migrate-db").withImage("tools").endInitContainer()
        .addNewInitContainer().withName("proxy").withImage("envoy").withRestartPolicy("Always").endInitContainer()
        .addNewContainer().withName("app").withImage("app:1").endContainer()
        .endSpec().build();

    Pod restored = DestinationPods.restored(template, "api-m12345678", "node-b", "12345678-aaaa",
        Map.of("app", "localhost/ums-checkpoint/api-app:12345678"));

    assertThat(restored.getSpec().getInitContainers()).extracting(Container::getName).containsExactly("proxy");
    assertThat(restored.getSpec().getContainers()).singleElement().satisfies(app -> {
      assertThat(app.getImage()).isEqualTo("localhost/ums-checkpoint/api-app:12345678");
      assertThat(app.getImagePullPolicy()).isEqualTo("Never");
    });
  }
}
