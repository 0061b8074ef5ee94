package io.ums.bench.downtime;

/** One cell of the bench matrix: a workload of {@code sizeMiB} on a link, the {@code run}-th repetition. */
public record Scenario(int sizeMiB, String link, int run, boolean compressible) {
  /** Share of the workload's pages that are compressible in the --compressible variant. */
  public static final int COMPRESSIBLE_PERCENT = 60;

  public long sizeBytes() {
    return (long) sizeMiB << 20;
  }

  public String memory() {
    return compressible ? "compressible" : "random";
  }

  /** memservice arguments after the port: MIB SEED [COMPRESSIBLE_PERCENT]. */
  public java.util.List<String> workloadArgs() {
    String seed = String.valueOf(1000 + sizeMiB * 10 + run);
    return compressible
        ? java.util.List.of(String.valueOf(sizeMiB), seed, String.valueOf(COMPRESSIBLE_PERCENT))
        : java.util.List.of(String.valueOf(sizeMiB), seed);
  }

  @Override
  public String toString() {
    return sizeMiB + " MiB " + link + " run " + run;
  }
}
