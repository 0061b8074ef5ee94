package io.ums.agent;

public final class AgentMain {
  public static void main(String[] args) {
    System.err.println("not implemented yet");
    System.exit(2);
  }
}
