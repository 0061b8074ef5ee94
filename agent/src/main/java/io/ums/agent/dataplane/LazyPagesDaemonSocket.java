package io.ums.agent.dataplane;

import io.ums.agent.criu.LazyPagemap;
import io.ums.agent.criu.LazyPagemap.Range;
import io.ums.protocol.IncomingChannel;
import io.ums.protocol.OutgoingChannel;
import io.ums.protocol.ProtocolError;
import io.ums.protocol.UmsConnection;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/**
 * The destination's end of a post-copy page stream: the local port the {@code criu lazy-pages} daemon
 * takes for its page server. Its requests go into a {@link LazyPageChannels#REQUESTS} channel, the source's
 * answers come back on {@link LazyPageChannels#PAGES} into its socket.
 *
 * <p>Safety: when the stream breaks before the daemon has every page, this never closes the daemon's
 * socket by itself. A daemon that loses its page server exits and closes the tasks' userfaultfds, after
 * which the kernel fills every page still missing with zeros and the workload would run on, silently
 * wrong. {@link #allPagesIn()} fails instead; the owner kills the restored tree first and only then
 * {@link #close()}s. Lives on the event loop that created it.
 *
 * <p>Read-ahead: once {@link #readAhead} gave it the dump's lazy ranges, it asks the source for them
 * ahead of the daemon (a {@link LazyPagePrefetch} window) on the same request channel, so the source
 * relay stays a plain pipe: CRIU's page server answers requests strictly in order, which is how each
 * answer is matched to its request here. The daemon's own requests are answered from what arrived,
 * wait for what is on its way, or go to the source (cut short where read-ahead already covers the
 * rest); the daemon reads its answers strictly in the order it asked, so they leave here in that order.
 */
public final class LazyPagesDaemonSocket {
  private static final int CLOSE_STATUS_BYTES = 4;
  private final SingleConnectionPort port;
  private final Promise<Void> allPagesIn = Promise.promise();
  private final LazyPageRequests requests = new LazyPageRequests();
  private final PageServerMessages daemonRecords = new PageServerMessages(false, (record, none) -> daemonAsked(record));
  private final PageServerMessages sourceAnswers = new PageServerMessages(true, this::sourceAnswered);
  /** The daemon's requests not answered yet, in its order. */
  private final Deque<Answer> answers = new ArrayDeque<>();
  /** What the source still owes, in the order asked: an {@link Answer} (the daemon's) or a {@link Range}. */
  private final Deque<Object> owed = new ArrayDeque<>();
  private NetSocket daemon;
  private OutgoingChannel requestChannel;
  private IncomingChannel pendingPages;
  private IncomingChannel pages;
  private LazyPagePrefetch prefetch;
  private Buffer heldClose;
  private boolean closeSent;
  private boolean daemonEnded;
  private volatile long pagesBytes;
  private long allPagesInNanos = -1;

  /** One daemon request: its record, and once known the answer to write (record + pages). */
  private static final class Answer {
    final Buffer request;
    List<Buffer> pages;
    Buffer record;
    boolean waiting;

    Answer(Buffer request) {
      this.request = request;
    }
  }

  private LazyPagesDaemonSocket(SingleConnectionPort port) {
    this.port = port;
    requests.closeHandler(() -> {
      allPagesInNanos = System.nanoTime();
      // Every reply is in (the daemon closes only with no request outstanding); all it waits for now is
      // the page server's 4-byte status. Answer it here: CRIU sends that status on a corked socket, where
      // it was once seen stuck for 30 s, and the daemon (so the whole post-copy) waited for it. The
      // source's own status is dropped when it comes.
      // The verdict (COMPLETE) waits until the source owes nothing more (read-ahead the daemon did not
      // need): only then is CRIU idle between requests, so that the source agent dying after it can only
      // end CRIU's session cleanly (tree left stopped), never by an error that would resume it there.
      daemon.write(Buffer.buffer(new byte[CLOSE_STATUS_BYTES]));
    });
  }

  public static Future<LazyPagesDaemonSocket> listen(Vertx vertx, String host) {
    return SingleConnectionPort.listen(vertx, host).map(LazyPagesDaemonSocket::new);
  }

  public int port() {
    return port.port();
  }

  /** Relays the daemon's connection over {@code connection} as soon as the daemon connects. */
  public void relay(UmsConnection connection, JsonObject metadata) {
    port.accepted().onSuccess(socket -> {
      daemon = socket;
      connection.openChannel(LazyPageChannels.REQUESTS, metadata).onComplete(opened -> {
        if (opened.failed()) {
          broken("cannot open the page request channel: " + opened.cause().getMessage());
          return;
        }
        requestChannel = opened.result();
        socket.handler(buffer -> {
          requests.feed(buffer);
          daemonRecords.feed(buffer);
          if (requestChannel.writeQueueFull()) {
            socket.pause();
            requestChannel.drainHandler(ignored -> socket.resume());
          }
        });
        socket.endHandler(ignored -> daemonClosed());
        if (pendingPages != null) {
          pipePages(pendingPages);
        }
        askAhead();
        socket.resume();
      });
    });
  }

  /** The source opened the page channel (possibly before the daemon connected). */
  public void pagesChannel(IncomingChannel channel) {
    channel.exceptionHandler(e -> broken("page channel failed: " + e.getMessage()));
    if (daemon != null && requestChannel != null) {
      pipePages(channel);
    } else {
      channel.pause();
      pendingPages = channel;
    }
  }

  private void pipePages(IncomingChannel channel) {
    // the source's page server ending before it answered everything asked: the source is gone
    channel.endHandler(ignored -> {
      if (!closeSent) {
        broken("the source's page server ended before the last page");
      }
    });
    pages = channel;
    channel.handler(buffer -> {
      if (closeSent) {
        return; // the source's close status: the daemon had its answer from here
      }
      pagesBytes += buffer.length();
      sourceAnswers.feed(buffer);
    });
    channel.resume();
  }

  /**
   * Starts reading ahead the dump's lazy ranges, at most {@code windowBytes} asked and not yet taken by
   * the daemon, at most {@code flyingBytes} of it not arrived, in requests of {@code chunkBytes}.
   */
  public void readAhead(LazyPagemap pagemap, long windowBytes, long chunkBytes, long flyingBytes) {
    if (windowBytes > 0 && !pagemap.byPid().isEmpty()) {
      prefetch = new LazyPagePrefetch(pagemap, windowBytes, chunkBytes, flyingBytes);
      askAhead();
    }
  }

  private void askAhead() {
    if (prefetch == null || requestChannel == null || heldClose != null || closeSent) {
      return;
    }
    for (Range range = prefetch.next(); range != null; range = prefetch.next()) {
      owed.add(range);
      requestChannel.write(PageServerMessages.request(LazyPageRequests.PS_IOV_GET, range.pid(), range.start(),
          range.pages()));
    }
  }

  private void daemonAsked(Buffer record) {
    if (PageServerMessages.cmd(record) != LazyPageRequests.PS_IOV_GET) {
      // its close: sent on once the source owes nothing more, so CRIU ends its session between answers
      heldClose = record;
      sendCloseWhenDone();
      return;
    }
    Answer answer = new Answer(record);
    answers.add(answer);
    if (prefetch != null && PageServerMessages.nrPages(record) > 1) {
      prefetch.follow(PageServerMessages.dstId(record));
    }
    resolve(answer);
    writeAnswers();
    askAhead();
  }

  private void resolve(Answer answer) {
    Buffer request = answer.request;
    if (prefetch == null) {
      forward(answer, request);
      return;
    }
    long pid = PageServerMessages.dstId(request);
    long start = PageServerMessages.vaddr(request);
    long end = start + PageServerMessages.nrPages(request) * PageServerMessages.PAGE;
    LazyPagePrefetch.Lookup lookup = prefetch.lookup(pid, start, end);
    answer.waiting = false;
    if (lookup instanceof LazyPagePrefetch.Cached cached) {
      answer.record = PageServerMessages.answer(pid, start, cached.pages());
      answer.pages = cached.data();
    } else if (lookup instanceof LazyPagePrefetch.InFlight) {
      answer.waiting = true;
    } else {
      long missEnd = ((LazyPagePrefetch.Miss) lookup).end();
      forward(answer, missEnd == end ? request : PageServerMessages.request(PageServerMessages.cmd(request), pid,
          start, (missEnd - start) / PageServerMessages.PAGE));
    }
  }

  private void forward(Answer answer, Buffer request) {
    owed.add(answer);
    requestChannel.write(request);
  }

  private void sourceAnswered(Buffer record, List<Buffer> pageData) {
    Object asked = owed.poll();
    if (asked instanceof Answer answer) {
      answer.record = record;
      answer.pages = pageData;
    } else if (asked instanceof Range range) {
      prefetch.arrived(range, PageServerMessages.nrPages(record), pageData);
      for (Answer waiting : answers) {
        if (waiting.waiting) {
          resolve(waiting);
        }
      }
      askAhead();
    } else {
      broken("the source's page server answered a request nobody made");
      return;
    }
    writeAnswers();
    sendCloseWhenDone();
  }

  /** Writes the answers that are ready, in the daemon's order. */
  private void writeAnswers() {
    while (!answers.isEmpty() && answers.peek().record != null) {
      Answer answer = answers.poll();
      daemon.write(answer.record);
      for (Buffer page : answer.pages) {
        daemon.write(page);
      }
    }
    if (daemon.writeQueueFull() && pages != null) {
      pages.pause();
      daemon.drainHandler(ignored -> pages.resume());
    }
  }

  private void sendCloseWhenDone() {
    if (heldClose == null || !owed.isEmpty() || closeSent) {
      return;
    }
    closeSent = true;
    allPagesIn.tryComplete();
    requestChannel.write(heldClose);
    if (daemonEnded) {
      requestChannel.end();
    }
  }

  private void daemonClosed() {
    if (requests.closed()) {
      daemonEnded = true;
      if (closeSent) {
        requestChannel.end();
      }
    } else {
      requestChannel.reset(ProtocolError.CANCELLED, "criu lazy-pages closed its page server before the last page");
      broken("criu lazy-pages closed its page server before the last page");
    }
  }

  /** The migration connection is gone (its close handler belongs to the caller, who tells us here). */
  public void connectionLost(String why) {
    broken(why);
  }

  private void broken(String why) {
    allPagesIn.tryFail(why);
  }

  /** Completes when the daemon has every page; fails when the stream broke before that. */
  public Future<Void> allPagesIn() {
    return allPagesIn.future();
  }

  /** When the last page arrived (nanoTime), or -1. */
  public long allPagesInNanos() {
    return allPagesInNanos;
  }

  public long pagesBytes() {
    return pagesBytes;
  }

  /** Bytes the daemon took from read-ahead (answered here, without a round trip to the source). */
  public long readAheadBytes() {
    return prefetch == null ? 0 : prefetch.servedBytes();
  }

  public long requestsSent() {
    return requests.requests();
  }

  public long pagesRequested() {
    return requests.pagesRequested();
  }

  /**
   * Stops listening and closes the daemon's connection, which ends the daemon. Only after the last page,
   * or after the restored tree is dead (see the class comment).
   */
  public Future<Void> close() {
    allPagesIn.tryFail("closed");
    if (requestChannel != null && !closeSent) {
      requestChannel.reset(ProtocolError.CANCELLED, "post-copy abandoned at the destination");
    }
    if (daemon != null) {
      daemon.close();
    }
    return port.close("closed before criu lazy-pages connected");
  }
}
