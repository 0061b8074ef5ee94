package io.ums.bench;

public final class BenchMain {
  public static void main(String[] args) {
    System.err.println("not implemented yet");
    System.exit(2);
  }
}
