package io.ums.testkit;

import io.ums.host.HostCommand;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The C memory service shipped as a resource ({@code workloads/memservice.c}): built with the host's gcc,
 * statically, so that the same binary also runs inside a busybox container. Blocking: set-up code only.
 */
public final class MemService {
  public static final String SOURCE_RESOURCE = "/workloads/memservice.c";

  private MemService() {}

  /** Compiles the service into {@code dir/memservice} unless it is already there, and returns its path. */
  public static synchronized Path build(Path dir) {
    Path binary = dir.resolve("memservice");
    if (Files.isExecutable(binary)) {
      return binary;
    }
    try {
      Files.createDirectories(dir);
      Path source = dir.resolve("memservice.c");
      try (InputStream in = MemService.class.getResourceAsStream(SOURCE_RESOURCE)) {
        if (in == null) {
          throw new IllegalStateException("resource " + SOURCE_RESOURCE + " missing from the test kit jar");
        }
        Files.copy(in, source, StandardCopyOption.REPLACE_EXISTING);
      }
      Path partial = dir.resolve("memservice.partial");
      HostCommand.check("gcc", "-O2", "-static", "-o", partial.toString(), source.toString());
      Files.move(partial, binary, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      return binary;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
