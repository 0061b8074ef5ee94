/*
 * memservice: the UMS test workload. Holds N MiB of random (incompressible) memory, keeps a counter
 * that advances every millisecond, and answers line requests on a TCP port:
 *   "c\n" -> "<counter> <checksum computed at start>\n"   (cheap: for millisecond probes)
 *   "v\n" -> "<counter> <checksum recomputed now over all memory>\n"   (proves memory survived)
 *   "p K\n" -> "<counter> ok\n" once the number K is in its in-memory key set (a write: acknowledged only
 *             after it is applied), "<counter> full\n" when the set is full
 *   "h K\n" -> "<counter> 1\n" when K is in the key set, "<counter> 0\n" when not
 *   "n\n"   -> "<counter> <number of keys in the set>\n"
 * Connections stay open (several requests per connection), so a migration must carry them.
 * It writes no files: its only output is one "ready" line on stdout.
 * usage: memservice PORT MIB [SEED [COMPRESSIBLE_PERCENT]]
 * COMPRESSIBLE_PERCENT (default 0) makes that share of the 4 KiB pages compressible, like real heaps:
 * half of them zero-filled (but touched, so a checkpoint carries them), half a repeated text pattern.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>

#define MAX_CLIENTS 256

static uint64_t *memory;
static size_t words;

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

#define PAGE_WORDS (4096 / sizeof(uint64_t))

/* Page p is compressible when (p * 37) % 100 < percent: spreads such pages evenly over the memory. */
static void fill(unsigned compressible_percent, uint64_t *seed) {
  static const char pattern[] = "GET /api/v1/items?page=42 HTTP/1.1 Host: example ";  /* 48 bytes + NUL */
  for (size_t start = 0; start < words; start += PAGE_WORDS) {
    size_t end = start + PAGE_WORDS < words ? start + PAGE_WORDS : words;
    size_t page = start / PAGE_WORDS;
    unsigned slot = (unsigned)((page * 37) % 100);
    if (slot >= compressible_percent) {
      for (size_t i = start; i < end; i++) memory[i] = splitmix64(seed);
    } else if (slot % 2 == 0) {
      for (size_t i = start; i < end; i++) memory[i] = 0;
    } else {
      for (size_t i = start; i < end; i++) memcpy(&memory[i], pattern + (i % 6) * 8, 8);
    }
  }
}

static uint64_t checksum(void) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < words; i++) {
    h ^= memory[i];
    h *= 0x100000001b3ULL;
    h ^= h >> 29;
  }
  return h;
}

/* The key set: open addressing, linear probing; a slot holds K + 1 (0: empty). Untouched slots cost nothing. */
#define KEY_SLOTS (1u << 20)
static uint64_t keys[KEY_SLOTS];
static uint64_t key_count;

static uint64_t *key_slot(uint64_t key) {
  uint64_t stored = key + 1;
  for (uint64_t i = (stored * 0x9E3779B97F4A7C15ULL) >> 44, n = 0; n < KEY_SLOTS; i = (i + 1) & (KEY_SLOTS - 1), n++) {
    if (keys[i] == stored || keys[i] == 0) return &keys[i];
  }
  return NULL;
}

/* The answer's second word for a request line (NUL-terminated): the checksum, or a key set command's result. */
static void answer_word(const char *line, uint64_t initial_checksum, char *word, size_t size) {
  if (line[0] == 'p' || line[0] == 'h') {
    uint64_t key = strtoull(line + 1, NULL, 10);
    uint64_t *slot = key_slot(key);
    if (line[0] == 'h') {
      snprintf(word, size, "%d", slot != NULL && *slot == key + 1);
    } else if (slot == NULL || (*slot == 0 && key_count >= KEY_SLOTS / 2)) {
      snprintf(word, size, "full");
    } else {
      if (*slot == 0) { *slot = key + 1; key_count++; }
      snprintf(word, size, "ok");
    }
  } else if (line[0] == 'n') {
    snprintf(word, size, "%llu", (unsigned long long)key_count);
  } else {
    snprintf(word, size, "%016llx", (unsigned long long)(line[0] == 'v' ? checksum() : initial_checksum));
  }
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s PORT MIB [SEED]\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  size_t mib = strtoull(argv[2], NULL, 10);
  uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 42;
  unsigned compressible_percent = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 0;
  if (compressible_percent > 100) compressible_percent = 100;

  words = mib * 1024 * 1024 / sizeof(uint64_t);
  if (words > 0) {
    memory = mmap(NULL, words * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) { perror("mmap"); return 1; }
    fill(compressible_percent, &seed);
  }
  uint64_t initial_checksum = checksum();

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
  if (listen(listener, 128) < 0) { perror("listen"); return 1; }

  printf("ready port=%d mib=%zu checksum=%016llx\n", port, mib, (unsigned long long)initial_checksum);
  fflush(stdout);

  struct pollfd fds[MAX_CLIENTS + 1];
  char pending[MAX_CLIENTS + 1][64];
  size_t pending_len[MAX_CLIENTS + 1];
  int nfds = 1;
  fds[0].fd = listener;
  fds[0].events = POLLIN;

  uint64_t counter = 0;
  uint64_t last_tick = now_ms();
  for (;;) {
    int ready = poll(fds, nfds, 1);
    uint64_t t = now_ms();
    if (t > last_tick) { counter += t - last_tick; last_tick = t; }
    if (ready <= 0) continue;

    if (fds[0].revents & POLLIN) {
      int client = accept(listener, NULL, NULL);
      if (client >= 0) {
        if (nfds <= MAX_CLIENTS) {
          setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          /* non-blocking: poll may report readiness that a read then does not find (e.g. right after
             CRIU resumed a dump it rolled back), and a blocking read would freeze the whole service */
          fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK);
          fds[nfds].fd = client;
          fds[nfds].events = POLLIN;
          pending_len[nfds] = 0;
          nfds++;
        } else {
          close(client);
        }
      }
    }
    for (int i = 1; i < nfds; i++) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[256];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (n <= 0) {
        close(fds[i].fd);
        fds[i] = fds[nfds - 1];
        memcpy(pending[i], pending[nfds - 1], pending_len[nfds - 1]);
        pending_len[i] = pending_len[nfds - 1];
        nfds--;
        i--;
        continue;
      }
      for (ssize_t k = 0; k < n; k++) {
        char ch = buf[k];
        if (ch != '\n') {
          if (pending_len[i] < sizeof pending[i] - 1) pending[i][pending_len[i]++] = ch;
          continue;
        }
        pending[i][pending_len[i]] = 0;
        pending_len[i] = 0;
        char word[32];
        answer_word(pending[i], initial_checksum, word, sizeof word);
        char out[64];
        int len = snprintf(out, sizeof out, "%llu %s\n", (unsigned long long)counter, word);
        if (write(fds[i].fd, out, len) < 0 && errno != EAGAIN) {
          /* the peer is gone; poll reports it next round */
        }
      }
    }
  }
}
