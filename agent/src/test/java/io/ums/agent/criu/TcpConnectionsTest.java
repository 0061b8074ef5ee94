package io.ums.agent.criu;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import org.junit.jupiter.api.Test;

class TcpConnectionsTest {
  @Test
  void procNetAddressesAreLittleEndianWords() {
    assertThat(TcpConnections.address("0100007F")).isEqualTo("127.0.0.1");
    assertThat(TcpConnections.address("0264A8C0")).isEqualTo("192.168.100.2");
    assertThat(TcpConnections.address("0000000000000000FFFF00000100007F")).isEqualTo("127.0.0.1");
    assertThat(TcpConnections.address("00000000000000000000000001000000")).isEqualTo("0:0:0:0:0:0:0:1");
  }

  @Test
  void findsTheLocalAddressOfAConnectionThisProcessHolds() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
         Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
         Socket accepted = server.accept()) {
      assertThat(TcpConnections.localAddresses(List.of(ProcessHandle.current().pid()))).containsExactly("127.0.0.1");
    }
  }

  @Test
  void findsTheAddressAListenerIsBoundToButNotAWildcard() throws Exception {
    try (ServerSocket bound = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
         ServerSocket wildcard = new ServerSocket(0)) {
      assertThat(TcpConnections.listeningAddresses(List.of(ProcessHandle.current().pid()))).containsExactly("127.0.0.1");
    }
  }

  @Test
  void loopbackIsLocalEverywhereAForeignAddressIsNot() {
    assertThat(TcpConnections.allLocal(List.of())).isTrue();
    assertThat(TcpConnections.allLocal(List.of("127.0.0.1", "::1"))).isTrue();
    // TEST-NET-3 (RFC 5737): never assigned to a real interface
    assertThat(TcpConnections.allLocal(List.of("127.0.0.1", "203.0.113.7"))).isFalse();
  }
}
