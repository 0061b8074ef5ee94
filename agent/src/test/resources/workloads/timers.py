# A test workload living on timers and signals (RealServersUnderLoadMigrationTest): an interval timer
# (setitimer, SIGALRM every 10 ms), a POSIX timer (timer_create, SIGUSR2 every 10 ms), a timerfd expiring
# every 10 ms (its expirations counted by a thread reading it every 100 ms), and a SIGUSR1 handler; an HTTP server answers
# "<alarms> <posix timer signals> <timerfd expirations> <SIGUSR1 received>".
import ctypes
import os
import signal
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(sys.argv[1])
counts = {"alarm": 0, "posix": 0, "timerfd": 0, "usr1": 0}


def count(name):
    def handler(signum, frame):
        counts[name] += 1
    return handler


signal.signal(signal.SIGALRM, count("alarm"))
signal.signal(signal.SIGUSR2, count("posix"))
signal.signal(signal.SIGUSR1, count("usr1"))
signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)

libc = ctypes.CDLL(None, use_errno=True)


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", Timespec), ("it_value", Timespec)]


class Sigevent(ctypes.Structure):
    # struct sigevent on x86_64 Linux: sigval, signo, notify, then a 48-byte union
    _fields_ = [("sigev_value", ctypes.c_void_p), ("sigev_signo", ctypes.c_int),
                ("sigev_notify", ctypes.c_int), ("pad", ctypes.c_byte * 48)]


ten_ms = Itimerspec(Timespec(0, 10_000_000), Timespec(0, 10_000_000))
CLOCK_MONOTONIC = 1
SIGEV_SIGNAL = 0
event = Sigevent(None, signal.SIGUSR2, SIGEV_SIGNAL)
timer_id = ctypes.c_void_p()
if libc.timer_create(CLOCK_MONOTONIC, ctypes.byref(event), ctypes.byref(timer_id)) != 0:
    sys.exit("timer_create: errno %d" % ctypes.get_errno())
if libc.timer_settime(timer_id, 0, ctypes.byref(ten_ms), None) != 0:
    sys.exit("timer_settime: errno %d" % ctypes.get_errno())

timer_fd = libc.timerfd_create(CLOCK_MONOTONIC, 0)
if timer_fd < 0 or libc.timerfd_settime(timer_fd, 0, ctypes.byref(ten_ms), None) != 0:
    sys.exit("timerfd: errno %d" % ctypes.get_errno())


def read_timerfd():
    # an event loop with other work: it reads the timerfd every 100 ms, so the timer has mostly expired,
    # unread, when the workload is frozen (the kernel re-arms a periodic timerfd only as it is read)
    while True:
        try:
            counts["timerfd"] += struct.unpack("Q", os.read(timer_fd, 8))[0]
        except InterruptedError:
            pass
        time.sleep(0.1)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%d %d %d %d\n" % (counts["alarm"], counts["posix"], counts["timerfd"], counts["usr1"])).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


threading.Thread(target=read_timerfd, daemon=True).start()
server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
while True:
    time.sleep(1)
