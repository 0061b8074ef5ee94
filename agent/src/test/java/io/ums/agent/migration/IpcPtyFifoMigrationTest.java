package io.ums.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.ums.host.HostCommand;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Small real programs using what ordinary services use (issue 15, item 7), launched through the agent on
 * node A and migrated to node B by two real agents with real CRIU: System V shared memory moves (the
 * workload has its own IPC namespace), stop-and-copy and post-copy, and so does anonymous memory a parent
 * shares with its child (MAP_SHARED, both processes still using it on B); a pseudo-terminal and a FIFO with bytes in it are refused before
 * anything is frozen, with UNMOVABLE_RESOURCE naming the file, and the source keeps answering; a pipe with
 * bytes in it moves, also out of a workload running as a user (restored into a user namespace of its own).
 */
@Tag("slow")
class IpcPtyFifoMigrationTest {
  private static final int PORT = 17201;
  /** A TCP server answering "<text in its SysV shared memory segment> <requests served>" per connection. */
  private static final String SHM_SERVER = """
      #include <netinet/in.h>
      #include <stdio.h>
      #include <stdlib.h>
      #include <sys/ipc.h>
      #include <sys/shm.h>
      #include <sys/socket.h>
      #include <unistd.h>
      int main(int argc, char **argv) {
        int id = shmget(IPC_PRIVATE, 1 << 20, IPC_CREAT | 0600);
        if (id < 0) { perror("shmget"); return 1; }
        char *shared = shmat(id, NULL, 0);
        if (shared == (void *) -1) { perror("shmat"); return 1; }
        snprintf(shared, 64, "shm-%s", argv[2]);
        int server = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
        if (bind(server, (struct sockaddr *) &address, sizeof address) || listen(server, 16)) { perror("listen"); return 1; }
        for (unsigned long served = 1;; served++) {
          int client = accept(server, NULL, NULL);
          if (client < 0) continue;
          char line[128];
          int length = snprintf(line, sizeof line, "%s %lu\\n", shared, served);
          if (write(client, line, length) < 0) perror("write");
          close(client);
        }
      }
      """;
  /** Holds a pseudo-terminal or a FIFO with bytes in it, and answers "alive" per connection. */
  private static final String HOLDER = """
      import os, pty, socket, sys
      if sys.argv[1] == "pty":
          master, slave = pty.openpty()
      else:
          os.mkfifo(sys.argv[3])
          fifo = os.open(sys.argv[3], os.O_RDWR)
          os.write(fifo, b"bytes nobody read yet")
      server = socket.create_server(("0.0.0.0", int(sys.argv[2])))
      while True:
          client, _ = server.accept()
          client.sendall(b"alive\\n")
          client.close()
      """;

  /** Keeps bytes in a pipe of its own; per connection, answers with them and puts them back. */
  private static final String PIPE_KEEPER = """
      import os, socket, sys
      kept_out, kept_in = os.pipe()
      os.write(kept_in, b"bytes kept in a pipe")
      server = socket.create_server(("0.0.0.0", int(sys.argv[1])))
      while True:
          client, _ = server.accept()
          kept = os.read(kept_out, 64)
          os.write(kept_in, kept)
          client.sendall(kept + b"\\n")
          client.close()
      """;
  /**
   * Shares 16 MiB of anonymous memory (MAP_SHARED) with a child it forked: the child counts in the first
   * 8 bytes every 10 ms; per connection the parent answers "<counter> <SHA-256 of the rest>".
   */
  private static final String SHARED_MAPPING = """
      import hashlib, mmap, os, socket, struct, sys, time
      size = 16 << 20
      shared = mmap.mmap(-1, size, flags=mmap.MAP_SHARED)
      shared[8:] = (hashlib.sha256(b"seed").digest() * (size // 32))[: size - 8]
      if os.fork() == 0:
          while True:
              shared[0:8] = struct.pack("<Q", struct.unpack("<Q", shared[0:8])[0] + 1)
              time.sleep(0.01)
      server = socket.create_server(("0.0.0.0", int(sys.argv[1])))
      while True:
          client, _ = server.accept()
          count = struct.unpack("<Q", shared[0:8])[0]
          client.sendall(b"%d %s\\n" % (count, hashlib.sha256(shared[8:]).hexdigest().encode()))
          client.close()
      """;
  private static final Path PIPE_SOFT_LIMIT = Path.of("/proc/sys/fs/pipe-user-pages-soft");

  private static MigrationTestBed bed;
  @RegisterExtension
  static final SharedAgentPair AGENTS = new SharedAgentPair("uip", started -> bed = started);

  @Test
  void systemVSharedMemoryMoves() throws Exception {
    systemVSharedMemoryMoves(MigrationMode.STOP_AND_COPY, "k7");
  }

  /** As above, moved post-copy: the segment's pages are in place before the tree runs on B. */
  @Test
  void systemVSharedMemoryMovesPostCopy() throws Exception {
    systemVSharedMemoryMoves(MigrationMode.POST_COPY, "p3");
  }

  private void systemVSharedMemoryMoves(MigrationMode mode, String text) throws Exception {
    Path source = Files.writeString(AGENTS.dir().resolve("shm-server.c"), SHM_SERVER);
    Path binary = AGENTS.dir().resolve("shm-server-" + text);
    HostCommand.check("gcc", "-O1", "-o", binary.toString(), source.toString());
    JsonObject workload = bed.launch(bed.a, "shm-" + text, List.of(binary.toString(), Integer.toString(PORT), text));
    String before = awaitAnswer(bed.a);
    assertThat(before).startsWith("shm-" + text + " ");

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"), mode);

    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
    assertThat(status.getString("mode")).isEqualTo(mode.wireName());
    String after = awaitAnswer(bed.b);
    assertThat(after).startsWith("shm-" + text + " ");
    assertThat(Long.parseLong(after.split(" ")[1])).as("requests served, counted on").isGreaterThan(
        Long.parseLong(before.split(" ")[1]));
    assertThat(bed.workloads(bed.a)).isEmpty();
  }

  @Test
  void sharedAnonymousMemoryBetweenAParentAndItsChildMoves() throws Exception {
    sharedAnonymousMemoryMoves(MigrationMode.STOP_AND_COPY);
  }

  @Test
  void sharedAnonymousMemoryBetweenAParentAndItsChildMovesPostCopy() throws Exception {
    sharedAnonymousMemoryMoves(MigrationMode.POST_COPY);
  }

  /**
   * Both processes keep using the one mapping on B: the parent's answer has the same contents, and the
   * counter the child writes (read by the parent) goes on from where it was.
   */
  private void sharedAnonymousMemoryMoves(MigrationMode mode) throws Exception {
    Path script = Files.writeString(AGENTS.dir().resolve("shared-mapping.py"), SHARED_MAPPING);
    JsonObject workload = bed.launch(bed.a, "shared-mapping", List.of(RealPrograms.PYTHON, script.toString(),
        Integer.toString(PORT)));
    String[] before = awaitAnswer(bed.a).split(" ");
    Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
        .until(() -> Long.parseLong(answer(bed.a).split(" ")[0]) > Long.parseLong(before[0]));

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"), mode);

    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
    String[] after = awaitAnswer(bed.b).split(" ");
    assertThat(after[1]).as("the shared mapping's contents on B").isEqualTo(before[1]);
    long counted = Long.parseLong(after[0]);
    assertThat(counted).as("the child's counter, read by the parent").isGreaterThan(Long.parseLong(before[0]));
    Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
        .until(() -> Long.parseLong(answer(bed.b).split(" ")[0]) > counted);
    assertThat(bed.workloads(bed.a)).isEmpty();
  }

  @Test
  void aPseudoTerminalIsRefusedBeforeTheFreeze() throws Exception {
    assertRefused(List.of("pty", Integer.toString(PORT)), "pseudo-terminal /dev/");
  }

  @Test
  void aPseudoTerminalIsRefusedBeforeTheFreezePostCopyToo() throws Exception {
    assertRefused(List.of("pty", Integer.toString(PORT)), "pseudo-terminal /dev/", MigrationMode.POST_COPY);
  }

  @Test
  void aFifoWithBytesInItIsRefusedBeforeTheFreeze() throws Exception {
    Path fifo = AGENTS.dir().resolve("fifo-" + System.nanoTime());
    assertRefused(List.of("fifo", Integer.toString(PORT), fifo.toString()), "named pipe (FIFO) " + fifo);
    Files.deleteIfExists(fifo);
  }

  /**
   * CRIU recreates the pipes of a workload running as a user as root of its user namespace, charged to the
   * host's root. With root's pipes over fs.pipe-user-pages-soft (forced here with a soft limit of one page;
   * in production the page pipes of a concurrent dump or post-copy source do it) the restore failed: "Can't
   * restore pipe size: Operation not permitted". The soft limit is restored after the test.
   */
  @Test
  void aPipeOfAWorkloadRunningAsAUserMovesWhileRootsPipesExceedTheSoftLimit() throws Exception {
    String softLimit = readSysctl(PIPE_SOFT_LIMIT);
    assertThat(softLimit).as(PIPE_SOFT_LIMIT.toString()).matches("\\d+");
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "ums-pipe-");
    try {
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
      Path script = Files.writeString(dir.resolve("pipe-keeper.py"), PIPE_KEEPER);
      JsonObject workload = bed.launch(bed.a, "pipe-keeper",
          List.of(RealPrograms.PYTHON, script.toString(), Integer.toString(PORT)), "nobody");
      assertThat(awaitAnswer(bed.a)).isEqualTo("bytes kept in a pipe");
      // only now: the program's own pipe was made at its full size, as on any node
      Files.writeString(PIPE_SOFT_LIMIT, "1\n");

      JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"));

      assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("DONE");
      assertThat(awaitAnswer(bed.b)).isEqualTo("bytes kept in a pipe");
      assertThat(bed.workloads(bed.a)).isEmpty();
      bed.assertNothingLeftBehind(bed.a, bed.b);
    } finally {
      Files.writeString(PIPE_SOFT_LIMIT, softLimit + "\n");
      HostCommand.run("rm", "-rf", dir.toString());
    }
    assertThat(readSysctl(PIPE_SOFT_LIMIT)).as("the soft limit, put back").isEqualTo(softLimit);
  }

  /** In one read: a sysctl answers nothing past offset 0, and Files.readString read "16384" as "1". */
  private static String readSysctl(Path sysctl) throws IOException {
    try (InputStream in = Files.newInputStream(sysctl)) {
      return new String(in.readNBytes(64), StandardCharsets.US_ASCII).trim();
    }
  }

  private void assertRefused(List<String> arguments, String named) throws Exception {
    assertRefused(arguments, named, MigrationMode.STOP_AND_COPY);
  }

  private void assertRefused(List<String> arguments, String named, MigrationMode mode) throws Exception {
    Path script = Files.writeString(AGENTS.dir().resolve("holder.py"), HOLDER);
    List<String> command = new java.util.ArrayList<>(List.of(RealPrograms.PYTHON, script.toString()));
    command.addAll(arguments);
    JsonObject workload = bed.launch(bed.a, "holder", command);
    awaitAnswer(bed.a);

    JsonObject status = bed.migrate(bed.a, bed.b, workload.getString("id"), mode);

    assertThat(status.getString("phase")).as(status.encodePrettily()).isEqualTo("ROLLED_BACK");
    JsonObject error = status.getJsonObject("error");
    assertThat(error.getString("code")).as(error.encode()).isEqualTo("UNMOVABLE_RESOURCE");
    assertThat(error.getString("message")).contains("cannot move: it holds the " + named);
    assertThat(status.getJsonObject("timings").containsKey("freezeMs")).as("never frozen").isFalse();
    assertThat(answer(bed.a)).isEqualTo("alive");
    assertThat(bed.a.get("/v1/workloads/" + workload.getString("id")).getString("status")).isEqualTo("RUNNING");
    assertThat(bed.workloads(bed.b)).isEmpty();
    bed.assertNothingLeftBehind(bed.a, bed.b);
  }

  private static String awaitAnswer(AgentProcess agent) {
    return Awaitility.await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> answer(agent),
        text -> !text.isEmpty());
  }

  private static String answer(AgentProcess agent) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(agent.node.address(), PORT), 2000);
      socket.setSoTimeout(5000);
      InputStream in = socket.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
    }
  }
}
