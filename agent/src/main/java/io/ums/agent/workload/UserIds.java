package io.ums.agent.workload;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The ids a workload's {@code user} names: a user name of this node's /etc/passwd (its uid and primary
 * gid), a numeric uid (with its passwd gid when it has an entry, else the same number) or {@code uid:gid}.
 */
record UserIds(long uid, long gid) {
  private static final long MAX_ID = 4_294_967_294L; // 4294967295 is the kernel's "no id"

  /** Blocking (reads /etc/passwd); a user this node does not know is the request's fault. */
  static UserIds resolve(String user, Path passwd) {
    String[] parts = user.split(":", -1);
    if (parts[0].chars().allMatch(Character::isDigit)) {
      long uid = id(parts[0], user);
      long gid = parts.length == 2 ? id(parts[1], user)
          : entry(passwd, fields -> fields[2].equals(Long.toString(uid))).map(fields -> id(fields[3], user)).orElse(uid);
      return new UserIds(uid, gid);
    }
    String[] fields = entry(passwd, candidate -> candidate[0].equals(user)).orElseThrow(() ->
        new InvalidWorkloadSpecException("user", "no user \"" + user + "\" on this node (" + passwd + ")"));
    return new UserIds(id(fields[2], user), id(fields[3], user));
  }

  private static long id(String text, String user) {
    try {
      long id = Long.parseLong(text);
      if (id <= MAX_ID) {
        return id;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new InvalidWorkloadSpecException("user", "\"" + user + "\": ids are numbers up to " + MAX_ID);
  }

  private static Optional<String[]> entry(Path passwd, java.util.function.Predicate<String[]> matches) {
    List<String> lines;
    try {
      lines = Files.readAllLines(passwd);
    } catch (IOException e) {
      return Optional.empty();
    }
    return lines.stream().map(line -> line.split(":", -1)).filter(fields -> fields.length >= 4)
        .filter(matches).findFirst();
  }
}
