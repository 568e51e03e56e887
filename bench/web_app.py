"""The web benchmark's app: Python's standard library, HTTP/1.1 keep-alive,
a small answer to any GET or POST. Its own CPU is not what is measured.

By default it writes an answer's head and body in two writes, as
http.server does (with Nagle's algorithm on, a client that does not
acknowledge the head at once waits for the delayed-ACK timer);
BENCH_APP_ONE_WRITE=1 writes each answer in one."""

import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    if os.environ.get("BENCH_APP_ONE_WRITE") == "1":
        wbufsize = 64 * 1024

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = answer
    do_POST = answer

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("AWS_LWA_PORT", "8080"))), Handler).serve_forever()
