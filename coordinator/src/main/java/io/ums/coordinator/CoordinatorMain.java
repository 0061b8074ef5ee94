package io.ums.coordinator;

public final class CoordinatorMain {
  public static void main(String[] args) {
    System.err.println("not implemented yet");
    System.exit(2);
  }
}
