package io.ums.agent.image;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ./ums image import NAME ROOTFS.tar [--base IMAGE]}, {@code list}, {@code delete NAME}: the agent's
 * OCI image store, used directly on disk (a running agent sees the change at once: the index is the truth).
 */
@Command(name = "image", mixinStandardHelpOptions = true, description = "Manages the agent's OCI image store.",
    subcommands = {ImageCli.Import.class, ImageCli.ListImages.class, ImageCli.Delete.class})
public final class ImageCli implements Callable<Integer> {
  public static final String DEFAULT_WORK_DIR = "/var/lib/ums/agent";

  @Option(names = "--work-dir", scope = CommandLine.ScopeType.INHERIT,
      defaultValue = "${env:UMS_WORK_DIR:-" + DEFAULT_WORK_DIR + "}",
      description = "The agent's work dir; images live in its images/ (default: $UMS_WORK_DIR or "
          + DEFAULT_WORK_DIR + ").")
  Path workDir;

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getErr());
    return 2;
  }

  OciImageStore store() {
    return ImageService.openStore(workDir);
  }

  /** Runs an action on the store; a refused operation prints its message and exits 1. */
  static int run(CommandLine.Model.CommandSpec spec, Callable<Void> action) throws Exception {
    try {
      action.call();
      return 0;
    } catch (ImageStoreException e) {
      spec.commandLine().getErr().println("ums image: " + e.code() + ": " + e.getMessage());
      return 1;
    }
  }

  @Command(name = "import", description = "Imports a rootfs tarball as a new layer (on top of --base).")
  static final class Import implements Callable<Integer> {
    @CommandLine.ParentCommand
    ImageCli parent;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", description = "Name of the new image.")
    String name;

    @Parameters(index = "1", description = "Root filesystem tarball (uncompressed tar).")
    Path rootfs;

    @Option(names = "--base", description = "Image whose layers go below the new one.")
    String base;

    @Override
    public Integer call() throws Exception {
      return run(spec, () -> {
        Image image = parent.store().importRootfs(name, rootfs.toAbsolutePath(), base);
        spec.commandLine().getOut().println(image.toJson().encodePrettily());
        return null;
      });
    }
  }

  @Command(name = "list", description = "Lists the images: name, layers, size.")
  static final class ListImages implements Callable<Integer> {
    @CommandLine.ParentCommand
    ImageCli parent;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      return run(spec, () -> {
        PrintWriter out = spec.commandLine().getOut();
        for (Image image : parent.store().list()) {
          out.printf("%-32s %2d layer(s) %12d bytes  %s%n", image.name(), image.layers().size(), image.layerBytes(),
              image.manifest());
        }
        out.flush();
        return null;
      });
    }
  }

  @Command(name = "delete", description = "Deletes an image and the layers no other image uses.")
  static final class Delete implements Callable<Integer> {
    @CommandLine.ParentCommand
    ImageCli parent;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", description = "Name of the image.")
    String name;

    @Override
    public Integer call() throws Exception {
      return run(spec, () -> {
        parent.store().delete(name);
        spec.commandLine().getOut().println("deleted " + name);
        return null;
      });
    }
  }
}
