"""GitOps credentials go only where their Secret says, over schemes the operator allows, and git follows no redirect.

The table is the hostile GitOps settings a ClickModel author could write; the real-git tests point the
repository at loopback listeners that must receive nothing.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from clickcast.api.spec import GitOps
from clickcast.api.status import Phase, Verdict
from clickcast.core import decide
from clickcast.devcluster import gitserver
from clickcast.gitops import GitCredentials, GitOpsError, GitPromotionRepository
from clickcast.gitops.remote import DEFAULT_SCHEMES, RemoteRefusedError, check, parse
from clickcast.runtime.gitops import GitOpsBridge
from tests.gitops.records import make_record
from tests.unit.core.core_world import NAME, NOW, spec
from tests.unit.core.test_core_canary import SHADOW, running, shadow_rollouts

TOKEN = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"
TEAM = GitCredentials("clickcast-bot", "s3cr3t-T0ken", hosts=("git.example.com",))

HOSTILE: list[tuple[str, str, GitCredentials | None, str]] = [
    ("plain http", "http://git.example.com/releases.git", TEAM, "http:// is not allowed"),
    ("file URL", "file:///var/lib/clickcast/releases.git", None, "file:// is not allowed"),
    ("local path", "/etc/clickcast", None, "file:// is not allowed"),
    ("unknown scheme", "ftp://git.example.com/releases.git", None, "ftp:// is not one of"),
    ("token as https user", f"https://{TOKEN}@git.example.com/releases.git", None, "carries a user name"),
    ("user in https URL", "https://bot@git.example.com/releases.git", TEAM, "carries a user name"),
    ("password in URL", f"https://bot:{TOKEN}@git.example.com/releases.git", None, "carries a password"),
    ("token as ssh user", f"ssh://{TOKEN}@git.example.com/releases.git", None, "looks like an access token"),
    ("token as scp user", f"{TOKEN}@git.example.com:team/releases.git", None, "looks like an access token"),
    ("Secret for another host", "https://attacker.test/releases.git", TEAM, "is for git.example.com, not attacker"),
    ("look-alike host", "https://git.example.com.attacker.test/r.git", TEAM, "not git.example.com.attacker.test"),
    ("Secret naming no host", "https://git.example.com/r.git", GitCredentials("bot", "pw"), "names no hosts"),
    (
        "ssh key for another host",
        "git@attacker.test:team/r.git",
        GitCredentials(ssh_private_key="k", hosts=("git.example.com",)),
        "not attacker.test",
    ),
    (
        "port not in the Secret",
        "https://git.example.com:8443/r.git",
        GitCredentials("bot", "pw", hosts=("git.example.com:443",)),
        "not git.example.com:8443",
    ),
]


@pytest.mark.unit
@pytest.mark.parametrize(("url", "creds", "said"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_a_hostile_gitops_setting_is_refused_naming_the_field_and_no_secret(
    url: str, creds: GitCredentials | None, said: str
) -> None:
    with pytest.raises(RemoteRefusedError) as refused:
        check(url, creds, DEFAULT_SCHEMES)
    message = str(refused.value)
    assert said in message and "spec.promotion.gitops." in message
    assert TOKEN not in message and "s3cr3t" not in message


@pytest.mark.unit
def test_what_a_platform_team_sets_up_is_allowed() -> None:
    assert check("https://git.example.com/team/releases.git", TEAM, DEFAULT_SCHEMES).host == "git.example.com"
    key = GitCredentials(ssh_private_key="k", hosts=("git.example.com",))
    assert check("git@git.example.com:team/releases.git", key, DEFAULT_SCHEMES).user == "git"
    assert check("ssh://git@GIT.example.com:2222/team/r.git", key, DEFAULT_SCHEMES).port == 2222
    assert check("https://github.com/public/r.git", None, DEFAULT_SCHEMES).scheme == "https"  # no Secret: no binding
    pinned = GitCredentials("bot", "pw", hosts=("git.example.com:8443",))
    assert check("https://git.example.com:8443/r.git", pinned, DEFAULT_SCHEMES).port == 8443
    # What `clickcast run` and the tests use: local repositories, when the process allows them.
    assert check("/srv/releases.git", None).scheme == parse("file:///srv/releases.git").scheme == "file"


@pytest.mark.unit
def test_a_secret_names_its_hosts_in_any_separator_and_case() -> None:
    creds = GitCredentials.from_secret(
        {"username": b"bot", "password": b"pw", "hosts": b"Git.Example.com, a.test\nb.test:8443"}
    )
    assert creds.hosts == ("git.example.com", "a.test", "b.test:8443")
    assert creds.allows("GIT.example.com", 443) and creds.allows("b.test", 8443) and not creds.allows("b.test", 443)


class _Listener:
    """A TCP listener on loopback that keeps whatever reaches it (the test's 'outside host')."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.received.append(conn.recv(65536) or b"<connected>")
                except OSError:
                    self.received.append(b"<connected>")


@contextmanager
def listener() -> Iterator[_Listener]:
    out = _Listener()
    out.thread.start()
    try:
        yield out
    finally:
        out.sock.close()
        out.thread.join(timeout=5)


@contextmanager
def redirecting_to(target: int) -> Iterator[int]:
    """An http Git host that answers every request with a redirect to 127.0.0.1:`target`."""

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{target}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _spec(url: str) -> GitOps:
    return GitOps(repo_url=url, branch="main", path="models", author_name="bot", author_email="bot@x")


@pytest.mark.gitops
@pytest.mark.timeout(60)
def test_a_secret_bound_to_another_host_sends_nothing_to_the_host_the_url_names(tmp_path: Path) -> None:
    with listener() as outside:
        url = f"https://127.0.0.1:{outside.port}/releases.git"
        with pytest.raises(GitOpsError) as refused:
            GitPromotionRepository(_spec(url), tmp_path / "cache", TEAM, schemes=DEFAULT_SCHEMES).record(make_record())
    assert "not 127.0.0.1" in str(refused.value) and not refused.value.retryable
    assert outside.received == []


@pytest.mark.gitops
@pytest.mark.timeout(60)
def test_git_follows_no_redirect_to_another_host(tmp_path: Path) -> None:
    creds = GitCredentials("clickcast-bot", "s3cr3t-T0ken", hosts=("127.0.0.1",))
    with listener() as outside, redirecting_to(outside.port) as port:
        url = f"http://127.0.0.1:{port}/releases.git"
        repo = GitPromotionRepository(_spec(url), tmp_path / "cache", creds, schemes=("http",))
        with pytest.raises(GitOpsError) as failed:
            repo.record(make_record())
    assert "s3cr3t" not in str(failed.value)
    assert outside.received == []  # without http.followRedirects=false git would have fetched from it


def test_the_operator_reports_a_refused_remote_as_a_refusal_and_a_missing_one_as_retryable(tmp_path: Path) -> None:
    """What the core sees while Promoting: a refusal ends the promotion at once, a remote down is retried."""
    s = spec(**SHADOW, **{"promotion.gitops": {"repoUrl": f"file://{tmp_path}/missing.git"}})
    promoting = decide(NAME, s, running(verdict=Verdict.PASS), shadow_rollouts(), NOW).status
    assert promoting.phase is Phase.PROMOTING
    refused = asyncio.run(GitOpsBridge(tmp_path / "cache", schemes=DEFAULT_SCHEMES).observe("ns", NAME, s, promoting))
    assert refused is not None and refused.refused and "file:// is not allowed" in (refused.error or "")
    allowed = GitOpsBridge(tmp_path / "cache", schemes=(*DEFAULT_SCHEMES, "file"))
    down = asyncio.run(allowed.observe("ns", NAME, s, promoting))
    assert down is not None and down.error and not down.refused


@pytest.mark.gitops
@pytest.mark.timeout(120)
def test_a_promotion_goes_over_http_with_the_secret_for_that_host_and_a_wrong_password_is_refused(
    tmp_path: Path,
) -> None:
    """The cluster demo's Git server (git http-backend, basic auth) with the product's credential path."""
    url = gitserver.up(tmp_path / "server")
    try:
        _, keys = gitserver.remote(tmp_path / "server")
        host = keys["hosts"]
        assert url.startswith(f"http://{host}/")
        good = GitCredentials(keys["username"], keys["password"], hosts=(host,))
        result = GitPromotionRepository(_spec(url), tmp_path / "cache", good, schemes=("http",)).record(make_record())
        bare = str(tmp_path / "server" / gitserver.REPOSITORY)
        log = subprocess.run(["git", "--git-dir", bare, "log", "--format=%H%n%B", "main"], check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
        assert result.commit is not None and result.commit in log and "Clickcast-Promotion: ads/offers-ctr@v2" in log
        wrong = GitCredentials(keys["username"], "not-the-password", hosts=(host,))
        with pytest.raises(GitOpsError) as refused:
            GitPromotionRepository(_spec(url), tmp_path / "other", wrong, schemes=("http",)).record(make_record("v3"))
        assert "not-the-password" not in str(refused.value)
    finally:
        gitserver.down(tmp_path / "server")
