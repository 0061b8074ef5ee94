package io.ums.agent.migration;

import io.ums.agent.criu.CriuException;
import io.ums.agent.error.MigrationFailure;
import io.ums.agent.error.MigrationFailure.Code;
import io.ums.protocol.UmsProtocolException;

/** Turns whatever failed a step into a {@link MigrationFailure}. */
final class Failures {
  private Failures() {}

  static MigrationFailure classify(Throwable failure, Code fallback) {
    if (failure instanceof MigrationFailure.Exception known) {
      return known.failure();
    }
    if (failure instanceof UmsProtocolException protocol) {
      Code code = switch (protocol.error()) {
        case CHECKSUM_MISMATCH, LENGTH_MISMATCH -> Code.CHECKSUM_MISMATCH;
        case CONNECTION_LOST, IDLE_TIMEOUT, CHANNEL_RESET, GOING_AWAY -> Code.CONNECTION_LOST;
        case AUTH_FAILED -> Code.AUTH_FAILED;
        case TLS_REQUIRED -> Code.TLS_REQUIRED;
        case CANCELLED -> Code.ABORTED;
        default -> Code.PROTOCOL_ERROR;
      };
      String message = String.valueOf(protocol.getMessage());
      return MigrationFailure.of(code, message.startsWith(protocol.error().name()) ? message
          : protocol.error() + ": " + message);
    }
    if (failure instanceof CriuException criu) {
      return MigrationFailure.of(criu.step().equals("restore") ? Code.RESTORE_FAILED : Code.DUMP_FAILED,
          criu.getMessage());
    }
    return MigrationFailure.of(fallback, String.valueOf(failure.getMessage()));
  }
}
