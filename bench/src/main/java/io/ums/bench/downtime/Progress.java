package io.ums.bench.downtime;

import java.io.PrintStream;
import java.util.Locale;

/**
 * The one-line progress report: "[3/24] rsync-ssh 256 MiB 1gbit run 2: transfer". Rewritten in place on a
 * terminal, one line per change otherwise (CI logs).
 */
public final class Progress {
  private final PrintStream out;
  private final boolean terminal;
  private final int total;
  private int done;
  private String current = "";

  public Progress(PrintStream out, int total) {
    this.out = out;
    this.terminal = System.console() != null;
    this.total = total;
  }

  public synchronized void start(String method, Scenario scenario) {
    done++;
    current = "[" + done + "/" + total + "] " + method + " " + scenario;
    print(current + ": starting");
  }

  public synchronized void phase(String phase) {
    print(current + ": " + phase);
  }

  public synchronized void finish(ResultRow row) {
    String verdict = row.ok()
        ? String.format(Locale.ROOT, "total %s ms, downtime %s ms%s", format(row.totalMs()), format(row.downtimeMs()),
            Boolean.FALSE.equals(row.checksumOk()) ? ", CHECKSUM MISMATCH" : "")
        : "FAILED: " + row.error();
    print(current + ": " + verdict);
    if (terminal) {
      out.println();
    }
  }

  private void print(String line) {
    if (terminal) {
      out.print("\r\033[K" + line);
      out.flush();
    } else {
      out.println(line);
    }
  }

  private static String format(Double value) {
    return value == null ? "-" : String.format(Locale.ROOT, "%.1f", value);
  }
}
