"""A small WSGI app served by the standard library's wsgiref, threaded: it
echoes the request it got as JSON, and has a few paths that misbehave."""

import json
import os
import sys
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/crash":
        os._exit(3)
    if path == "/big":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        chunk = b"x" * (1024 * 1024)
        return (chunk for _ in range(100))
    if path == "/image":
        start_response("200 OK", [("Content-Type", "image/png")])
        return [bytes(range(256))]
    if path == "/cookies":
        start_response("201 Created", [("Content-Type", "text/plain"), ("Set-Cookie", "a=1; Secure"), ("Set-Cookie", "b=2")])
        return [b"two cookies"]
    if path.startswith("/slow/"):
        time.sleep(0.2)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    headers = {key[5:].lower().replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    echo = {
        "method": environ["REQUEST_METHOD"],
        "path": path,
        "query": environ.get("QUERY_STRING", ""),
        "headers": headers,
        "body": body.decode("latin-1"),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(echo).encode()]


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


print("wsgi echo app listening", file=sys.stderr, flush=True)
make_server("127.0.0.1", int(os.environ["PORT"]), app, server_class=Server, handler_class=Quiet).serve_forever()
