# A multi-threaded test workload (RealProgramsMigrationTest): N worker threads counting, an echo pair
# talking over a loopback TCP connection inside the process, and a ThreadingHTTPServer answering
# "<ticks> <threads> <echoes> <echo errors or ok>".
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(sys.argv[1])
workers = int(sys.argv[2])
ticks = [0] * workers
echoes = 0
echo_errors = []


def work(index):
    while True:
        ticks[index] += 1
        time.sleep(0.01)


def receive_exactly(conn, size):
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return data


def echo_server(listener):
    conn, _ = listener.accept()
    try:
        while True:
            conn.sendall(receive_exactly(conn, 4))
    except Exception as error:
        echo_errors.append("server " + repr(error))


def echo_client(echo_port):
    global echoes
    conn = socket.create_connection(("127.0.0.1", echo_port))
    try:
        while True:
            conn.sendall(b"ping")
            if receive_exactly(conn, 4) != b"ping":
                raise ConnectionError("bad echo")
            echoes += 1
            time.sleep(0.01)
    except Exception as error:
        echo_errors.append("client " + repr(error))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        errors = ";".join(echo_errors) or "ok"
        body = f"{sum(ticks)} {threading.active_count()} {echoes} {errors}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


listener = socket.create_server(("127.0.0.1", 0))
threading.Thread(target=echo_server, args=(listener,), daemon=True).start()
threading.Thread(target=echo_client, args=(listener.getsockname()[1],), daemon=True).start()
for i in range(workers):
    threading.Thread(target=work, args=(i,), daemon=True).start()
ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
