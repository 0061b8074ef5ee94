package io.ums.agent.image;

import io.ums.agent.image.ImageStoreException.Code;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.UUID;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/** The file work of the image store: atomic writes, hashing copies, tarball checks. Blocking. */
final class StoreFiles {
  private StoreFiles() {}

  static void writeAtomically(Path target, String content, Path scratch) throws IOException {
    Path temp = scratch.resolve(target.getFileName() + "." + UUID.randomUUID() + ".partial");
    Files.writeString(temp, content);
    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** Copies {@code in} to {@code target} (or nowhere when null) and returns the SHA-256 of the bytes. */
  static Digest copyHashing(InputStream in, Path target) throws IOException {
    MessageDigest sha = newSha256();
    try (DigestInputStream hashing = new DigestInputStream(in, sha)) {
      if (target == null) {
        hashing.transferTo(OutputStream.nullOutputStream());
      } else {
        Files.copy(hashing, target, StandardCopyOption.REPLACE_EXISTING);
      }
    }
    return Digest.of(sha.digest());
  }

  static void checkTarball(Path file, Path original) {
    try (TarArchiveInputStream tar = new TarArchiveInputStream(Files.newInputStream(file))) {
      int entries = 0;
      for (TarArchiveEntry entry = tar.getNextEntry(); entry != null; entry = tar.getNextEntry()) {
        String path = entry.getName();
        if (path.startsWith("/") || Path.of(path).normalize().startsWith("..")) {
          throw new ImageStoreException(Code.INVALID, original + ": entry escapes the root: " + path);
        }
        entries++;
      }
      if (entries == 0) {
        throw new ImageStoreException(Code.INVALID, original + " holds no tar entries");
      }
    } catch (IOException e) {
      throw new ImageStoreException(Code.INVALID, original + " is not a tar archive: " + e.getMessage(), e);
    }
  }

  static byte[] sha256(byte[] bytes) {
    return newSha256().digest(bytes);
  }

  static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }

  static void deleteQuietly(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
