"""A real S3-compatible server on loopback for tests and demos: MinIO, built once from its Go module.

`hack/build-minio.sh` owns the version and the cache; it prints the binary's
path on its last stdout line and is a no-op once the cache is warm.
`CLICKCAST_MINIO` names a binary explicitly (outside a checkout).
`start(data_dir)` runs `minio server` on a free 127.0.0.1 port with fresh
random root credentials and waits until it answers; `S3Server.stop()` ends it.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from clickcast.devcluster import pidfile, secret_files
from clickcast.devcluster.errors import DevClusterError

MINIO_ENV = "CLICKCAST_MINIO"
SCRIPT = Path("hack") / "build-minio.sh"
REGION = "us-east-1"


@dataclass
class S3Server:
    """A running server: its endpoint and root credentials (never printed: repr hides the secret)."""

    endpoint_url: str
    access_key: str
    secret_key: str = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path

    def storage_options(self) -> dict[str, str]:
        """The server as fsspec storage options, the keys a storageOptionsSecret holds."""
        return {"key": self.access_key, "secret": self.secret_key, "endpoint_url": self.endpoint_url}

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)


def _build_script() -> Path | None:
    for parent in Path(__file__).resolve().parents:
        if (parent / SCRIPT).is_file():
            return parent / SCRIPT
    return None


def locate() -> Path:
    """The minio binary, built first if needed (minutes, once; progress on stderr)."""
    explicit = os.environ.get(MINIO_ENV)
    if explicit and os.access(explicit, os.X_OK):
        return Path(explicit)
    script = _build_script()
    if script is None:
        raise DevClusterError(f"minio not found and no {SCRIPT} to build it; set {MINIO_ENV} to a minio binary")
    proc = subprocess.run(["bash", str(script)], stdout=subprocess.PIPE, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines or not os.access(lines[-1], os.X_OK):
        raise DevClusterError(f"building minio failed ({script} exited {proc.returncode}; see above)")
    return Path(lines[-1])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/minio/health/ready", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def start(data_dir: Path, binary: Path | None = None, timeout: float = 60.0) -> S3Server:
    """Run MinIO on 127.0.0.1 with its data in `data_dir`; return once it is ready."""
    binary = binary or locate()
    data_dir.mkdir(parents=True, exist_ok=True)
    port, console = _free_port(), _free_port()
    access_key, secret_key = f"cc{secrets.token_hex(8)}", secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "MINIO_ROOT_USER": access_key,
        "MINIO_ROOT_PASSWORD": secret_key,
        "MINIO_REGION": REGION,
        "MINIO_BROWSER": "off",
        "MINIO_UPDATE": "off",
        "MINIO_CI_CD": "1",  # allows a data dir on the root disk
    }
    log_path = data_dir.parent / f"{data_dir.name}.minio.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(binary), "server", "--quiet", "--address", f"127.0.0.1:{port}",
             "--console-address", f"127.0.0.1:{console}", str(data_dir)],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    server = S3Server(f"http://127.0.0.1:{port}", access_key, secret_key, process, log_path)
    deadline = time.monotonic() + timeout
    while not _ready(server.endpoint_url):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            tail = log_path.read_text(errors="replace")[-2000:]
            raise DevClusterError(f"minio did not become ready on {server.endpoint_url}:\n{tail}")
        time.sleep(0.2)
    return server


CREDENTIALS = "credentials"
"""Under an `up` directory: one file per storage option (key, secret, endpoint_url, region), as a Secret holds
them: `kubectl create secret generic NAME --from-file=<dir>/credentials`."""


def up(directory: Path, buckets: tuple[str, ...] = ("clickcast",)) -> S3Server:
    """A MinIO that outlives this process (its own session), with `buckets` made and its credentials written
    under `directory/credentials` (owner-only); `down(directory)` stops it."""
    server = start(directory / "data")
    secret_files.write(directory / CREDENTIALS, {**server.storage_options(), "region": REGION})
    (directory / "minio.pid").write_text(f"{server.process.pid}\n")
    import s3fs  # noqa: PLC0415 - only `up` makes buckets

    # Top-level endpoint_url: it overrides one in fsspec's configured defaults (client_kwargs would clash with it).
    fs = s3fs.S3FileSystem(key=server.access_key, secret=server.secret_key, endpoint_url=server.endpoint_url,
                           client_kwargs={"region_name": REGION}, skip_instance_cache=True)  # fmt: skip
    for bucket in buckets:
        fs.mkdir(bucket)
    return server


def down(directory: Path) -> bool:
    """Stop the MinIO `up` started in `directory` (its data stays); False if none ran."""
    return pidfile.stop(directory / "minio.pid")


def storage_options(directory: Path) -> dict[str, str]:
    """The storage options `up` wrote under `directory`."""
    creds = directory / CREDENTIALS
    if not creds.is_dir():
        raise DevClusterError(f"no object store credentials in {creds} (`clickcast dev objectstore up` writes them)")
    return secret_files.read(creds)
