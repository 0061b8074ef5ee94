package io.ums.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The security flags of the command line: bad files stop the start with a usage error naming the flag. */
class CoordinatorMainTest {
  @Test
  void unreadableTokensHalfATlsPairAndABadCaAreUsageErrors(@TempDir Path dir) throws Exception {
    Path empty = Files.writeString(dir.resolve("empty"), "  \n");
    Path token = Files.writeString(dir.resolve("token"), "s3cret-token-value\n");
    for (List<String> args : List.of(
        List.of("--agent-token-file", dir.resolve("missing").toString()),
        List.of("--peer-token-file", empty.toString()),
        List.of("--api-token-file", empty.toString()),
        List.of("--tls-key", token.toString()),
        List.of("--tls-cert", token.toString(), "--tls-key", token.toString()),
        List.of("--ca", token.toString()),
        List.of("--peer", "ftp://other:8080"),
        List.of("--peer", "https://other:8080=" + dir.resolve("missing")),
        List.of("--peers-file", Files.writeString(dir.resolve("peers.yaml"), "- just a list\n").toString()),
        List.of("--peers-file", Files.writeString(dir.resolve("peers2.yaml"), "https://other:8080: missing\n")
            .toString()))) {
      StringWriter err = new StringWriter();
      String[] full = Stream.concat(Stream.of("--agents", "node-a=http://127.0.0.1:1", "--port", "0"), args.stream())
          .toArray(String[]::new);

      int exit = new CommandLine(new CoordinatorMain()).setErr(new PrintWriter(err)).execute(full);

      assertThat(exit).as(String.join(" ", args)).isEqualTo(2);
      String flag = args.get(0).equals("--tls-key") ? "--tls-cert" : args.get(0);
      if (flag.equals("--peers-file") && args.get(1).endsWith("peers2.yaml")) {
        flag = "https://other:8080";
      }
      assertThat(err.toString()).as(String.join(" ", args)).contains(flag).doesNotContain("s3cret-token-value");
    }
  }
}
