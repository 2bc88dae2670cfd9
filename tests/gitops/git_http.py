"""`git http-backend` behind HTTP basic auth on 127.0.0.1: a stand-in for an https Git host.

Plain http on loopback; the server checks the Authorization header the way a Git host checks
https credentials, so the client's credential path (askpass, no password in URLs) is exercised.
Every request line the server logs is kept in `log` so that tests can look for leaked secrets.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


@dataclass
class GitHttpServer:
    root: Path
    """GIT_PROJECT_ROOT: bare repositories below it are served as /<name>.git."""
    username: str
    password: str
    port: int = 0
    log: list[str] = field(default_factory=list)

    def url(self, repo: str) -> str:
        return f"http://127.0.0.1:{self.port}/{repo}"

    def app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if environ.get("HTTP_AUTHORIZATION") != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"'), ("Content-Length", "0")])
            return [b""]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        cgi = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": self.username,
            "REMOTE_ADDR": "127.0.0.1",
            "REQUEST_METHOD": environ["REQUEST_METHOD"],
            "PATH_INFO": environ.get("PATH_INFO", ""),
            "QUERY_STRING": environ.get("QUERY_STRING", ""),
            "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": environ.get("HTTP_CONTENT_ENCODING", ""),
            "GIT_PROTOCOL": environ.get("HTTP_GIT_PROTOCOL", ""),
        }
        out = subprocess.run(["git", "http-backend"], input=body, env=cgi, capture_output=True, check=False).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = "200 OK", []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = value.strip()
            elif name:
                headers.append((name, value.strip()))
        start_response(status, [*headers, ("Content-Length", str(len(payload)))])
        return [payload]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@contextmanager
def serve(server: GitHttpServer) -> Iterator[GitHttpServer]:
    log = server.log

    class Handler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.append(format % args)

    httpd = make_server("127.0.0.1", 0, server.app, server_class=_Server, handler_class=Handler)
    server.port = httpd.server_port
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
