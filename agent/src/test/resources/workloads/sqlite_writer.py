# A test workload for RealServersUnderLoadMigrationTest: Python's sqlite3 in WAL mode committing one row per
# transaction in a loop; an HTTP server answers "<last committed n> <commits>" (a commit counts once
# sqlite3's commit() returned, i.e. once it is acknowledged).
import os
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(sys.argv[1])
path = sys.argv[2]
acknowledged = 0

db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE IF NOT EXISTS acked (n INTEGER PRIMARY KEY)")
last = db.execute("SELECT coalesce(max(n), 0) FROM acked").fetchone()[0]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%d %d\n" % (last, acknowledged)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
while True:
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO acked (n) VALUES (?)", (last + 1,))
    db.execute("COMMIT")
    last += 1
    acknowledged += 1
