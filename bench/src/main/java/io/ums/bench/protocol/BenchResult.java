package io.ums.bench.protocol;

/**
 * One measured transfer; MB are 10^6 bytes. {@code cpuSeconds} is the whole process's CPU time
 * during the run (both ends live in this process): on a shared, loaded machine it shows the cost
 * of a path better than the wall clock does.
 */
record BenchResult(String name, long bytes, double seconds, double cpuSeconds) {
  double mbPerSec() {
    return bytes / 1e6 / seconds;
  }
}
