"""A web app on raw sockets that sends every byte on purpose: keep-alive
HTTP/1.1, answers split across segments after a 100 Continue, chunked
streams, garbage, resets and silence, chosen by the request's path."""

import os
import signal
import socket
import struct
import sys
import threading
import time

connections = 0
lock = threading.Lock()


def read_request(conn, buffered):
    while b"\r\n\r\n" not in buffered:
        data = conn.recv(65536)
        if not data:
            return None, b""
        buffered += data
    head, rest = buffered.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(rest) < length:
        data = conn.recv(65536)
        if not data:
            return None, b""
        rest += data
    return lines[0].split(" ")[1], rest[length:]


def answer(conn, body, extra=b""):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def serve(conn):
    global connections
    with lock:
        connections += 1
        number = connections
    buffered = b""
    while True:
        path, buffered = read_request(conn, buffered)
        if path is None:
            conn.close()
            return
        if path == "/garbage":
            conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            conn.close()
            return
        if path == "/never":
            time.sleep(60)
            return
        if path == "/reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            return
        if path == "/interim-split":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            time.sleep(0.05)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Len")
            time.sleep(0.05)
            conn.sendall(b"gth: 5\r\n\r\nhel")
            time.sleep(0.05)
            conn.sendall(b"lo")
            continue
        if path == "/stream":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            for part in (b"one\n", b"two\n", b"three\n"):
                time.sleep(0.1)
                conn.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            conn.sendall(b"0\r\n\r\n")
            continue
        if path == "/unhealthy":
            conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            continue
        if path == "/connection":
            answer(conn, str(number).encode())
            continue
        answer(conn, b"ok")


marker = os.environ.get("TERM_MARKER")
if marker:
    def bye(*_):
        with open(marker, "w") as out:
            out.write("bye")
        os._exit(0)
    signal.signal(signal.SIGTERM, bye)

listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(os.environ["PORT"])))
listener.listen(64)
print("hostile app listening", file=sys.stderr, flush=True)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
