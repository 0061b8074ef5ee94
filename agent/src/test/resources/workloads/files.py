# A test workload holding the kinds of files real programs hold (RealProgramsMigrationTest):
# a pid file, a data file open for reading and appending, an anonymous temporary file (created, then unlinked while open: what tempfile.TemporaryFile does) of 8 MiB,
# a file it keeps appending to, and an HTTP server answering
# "<sha256 of the temporary file> <lines appended> <ticks>".
import hashlib
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(sys.argv[1])
state_dir = sys.argv[2]

pid_file = open(os.path.join(state_dir, "files.pid"), "w")
pid_file.write(str(os.getpid()))
pid_file.flush()

data_file = open(os.path.join(state_dir, "files.data"), "a+")

scratch = tempfile.TemporaryFile(dir=state_dir)
scratch.write(os.urandom(8 * 1024 * 1024))
scratch.flush()

journal = open(os.path.join(state_dir, "files.journal"), "a")
appended = 0
ticks = 0
lock = threading.Lock()


def scratch_digest():
    with lock:
        scratch.seek(0)
        return hashlib.sha256(scratch.read()).hexdigest()


def tick():
    global appended, ticks
    while True:
        with lock:
            journal.write("tick %d\n" % ticks)
            journal.flush()
            appended += 1
            ticks += 1
        time.sleep(0.01)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s %d %d\n" % (scratch_digest(), appended, ticks)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


threading.Thread(target=tick, daemon=True).start()
ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
