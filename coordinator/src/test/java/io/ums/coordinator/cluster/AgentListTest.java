package io.ums.coordinator.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentListTest {
  @Test
  void parsesTheFlag() {
    assertThat(AgentList.parseFlag("node-a=http://10.1.0.2:7070/, node-b=http://10.1.0.3:7070"))
        .containsExactly(new AgentRef("node-a", "http://10.1.0.2:7070"), new AgentRef("node-b", "http://10.1.0.3:7070"));
    assertThatThrownBy(() -> AgentList.parseFlag("node-a")).hasMessageContaining("node=url");
    assertThatThrownBy(() -> AgentList.parseFlag("a=http://x:1,a=http://y:1")).hasMessageContaining("twice");
  }

  @Test
  void readsYamlAndJsonFiles(@TempDir Path dir) throws Exception {
    Path yaml = Files.writeString(dir.resolve("agents.yaml"),
        "agents:\n  - node: node-a\n    url: http://10.1.0.2:7070\n  - node: node-b\n    url: http://10.1.0.3:7070\n");
    Path json = Files.writeString(dir.resolve("agents.json"), "{\"node-a\": \"http://10.1.0.2:7070\"}");

    assertThat(AgentList.parseFile(yaml)).extracting(AgentRef::node).containsExactly("node-a", "node-b");
    assertThat(AgentList.parseFile(json)).containsExactly(new AgentRef("node-a", "http://10.1.0.2:7070"));
    Path broken = Files.writeString(dir.resolve("bad.yaml"), "agents:\n  - node: x\n");
    assertThatThrownBy(() -> AgentList.parseFile(broken)).hasMessageContaining("node and url");
  }
}
