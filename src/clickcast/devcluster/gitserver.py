"""A local Git remote over smart HTTP with basic auth: git's own `git http-backend`, behind a small CGI bridge.

The cluster demo's GitOps promotions go here the way they go to a team's Git host: over HTTP, with a user name and
password from a Secret that names the host. (Plain HTTP on loopback, so the demo's chart allows `http` among
`operator.gitSchemes`; a real remote is https or ssh.) `up` creates a bare repository `releases.git` (branch
main), writes the credentials a `secretRef` Secret holds (username, password, hosts) and starts the server in its
own session; `down` stops it.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import os
import secrets
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from clickcast.devcluster import pidfile, secret_files
from clickcast.devcluster.errors import DevClusterError
from clickcast.local.frontend import free_port

REPOSITORY = "releases.git"
CREDENTIALS = "credentials"
"""Under an `up` directory: one file per key of a GitOps secretRef Secret (username, password, hosts):
`kubectl create secret generic NAME --from-file=<dir>/credentials`."""
PID_FILE = "gitserver.pid"
URL_FILE = "url"
USER = "clickcast-demo"
FORWARDED = ("Content-Type", "Content-Encoding", "Git-Protocol")
"""Request headers git http-backend reads (as HTTP_* or CONTENT_TYPE variables)."""


def handler(root: Path, username: str, password: str) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    class GitHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            # Every request, reads included: a credential that works only for pushes would hide a wrong one.
            if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="clickcast-demo"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REMOTE_USER": username,  # git http-backend accepts pushes only from an authenticated user
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "SERVER_PROTOCOL": self.request_version,
                "GATEWAY_INTERFACE": "CGI/1.1",
            }
            for name in FORWARDED:
                if name in self.headers:
                    key = "CONTENT_TYPE" if name == "Content-Type" else "HTTP_" + name.upper().replace("-", "_")
                    env[key] = self.headers[name]
            body = self._body()
            env["CONTENT_LENGTH"] = str(len(body))
            done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
            code, reason, headers, payload = cgi_response(done.stdout)
            self.send_response(code, reason)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            if done.returncode != 0:
                sys.stderr.write(done.stderr.decode(errors="replace"))

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":  # git sends big packs chunked
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    return GitHandler


def cgi_response(output: bytes) -> tuple[int, str | None, list[tuple[str, str]], bytes]:
    """A CGI program's output as status code, reason, headers (without Status and Content-Length) and body."""
    separator = b"\r\n\r\n" if b"\r\n\r\n" in output else b"\n\n"
    head, _, payload = output.partition(separator)
    code, reason, headers = 200, "OK", []
    for line in head.decode("latin-1").splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key.lower() == "status":
            number, _, reason = value.partition(" ")
            code = int(number)
        elif value and key.lower() != "content-length":
            headers.append((key, value))
    return code, reason or None, headers, payload


def up(directory: Path, timeout: float = 30.0) -> str:
    """Create `directory/releases.git` (if new) and its credentials, start the server detached; its repository URL."""
    directory.mkdir(parents=True, exist_ok=True)
    repo = directory / REPOSITORY
    if not repo.exists():
        subprocess.run(["git", "init", "--bare", "-q", "-b", "main", str(repo)], check=True)
    port = free_port()
    # The Secret is for this server alone: host and port.
    secret_files.write(
        directory / CREDENTIALS, {"username": USER, "password": secrets.token_urlsafe(18), "hosts": f"127.0.0.1:{port}"}
    )
    log = (directory / "gitserver.log").open("ab")
    process = subprocess.Popen([sys.executable, "-m", "clickcast.devcluster.gitserver", "--root", str(directory),
                                "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    (directory / PID_FILE).write_text(f"{process.pid}\n")
    url = f"http://127.0.0.1:{port}/{REPOSITORY}"
    (directory / URL_FILE).write_text(url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/info/refs?service=git-upload-pack", timeout=2).status_code == 401:
                return url  # up, and asking for credentials
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            down(directory)
            raise DevClusterError(f"the Git server did not start on port {port} (log: {directory / 'gitserver.log'})")
        time.sleep(0.1)


def remote(directory: Path) -> tuple[str, dict[str, str]]:
    """The repository URL and the credentials (a secretRef Secret's keys) of the server `up` started there."""
    try:
        url = (directory / URL_FILE).read_text().strip()
        creds = secret_files.read(directory / CREDENTIALS)
    except OSError as exc:
        raise DevClusterError(f"no Git server in {directory} (`clickcast dev gitserver up --dir` starts one)") from exc
    return url, creds


def down(directory: Path) -> bool:
    """Stop the server `up` started in `directory` (the repository stays); False if none ran."""
    return pidfile.stop(directory / PID_FILE)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    creds = secret_files.read(args.root / CREDENTIALS)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(args.root, creds["username"], creds["password"]))
    server.serve_forever()


if __name__ == "__main__":
    main()
