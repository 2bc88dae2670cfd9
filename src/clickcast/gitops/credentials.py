"""Push credentials from the Secret `spec.promotion.gitops.secretRef` names, and the git environment that uses them.

The Secret has `username` and `password` (https: a password or an access token), or
`ssh-privatekey` (ssh; the key of a `kubernetes.io/ssh-auth` Secret), optionally `known_hosts`, and
`hosts`: the host names (comma- or space-separated, `host` or `host:port`) the credentials are for; the
operator uses them for no other host (clickcast.gitops.remote).
Values never reach an argv, a remote URL, `.git/config` or a message:

- https: git asks a `GIT_ASKPASS` script, written to a private (0700) temporary directory, which
  prints the username or the password from its own environment; credential helpers are disabled;
- ssh: the key is written 0600 to that directory and passed with `GIT_SSH_COMMAND`
  (`-i KEY -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o BatchMode=yes`);
- every message built from git's output goes through `Scrubber`, which hides the secret values
  and any userinfo in URLs.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

USERNAME = "username"
PASSWORD = "password"
SSH_PRIVATE_KEY = "ssh-privatekey"
KNOWN_HOSTS = "known_hosts"
HOSTS = "hosts"
KEYS = (USERNAME, PASSWORD, SSH_PRIVATE_KEY, KNOWN_HOSTS, HOSTS)

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
# git asks "Username for 'https://host[:port]': " and "Password for 'https://user@host[:port]': ". The
# script answers only for the host it was written for: no other host gets the password, whatever asks.
_ASKPASS = """#!/bin/sh
case "$1" in
  *"://$CLICKCAST_GIT_HOST'"*|*"://$CLICKCAST_GIT_HOST:"*|*"@$CLICKCAST_GIT_HOST'"*|*"@$CLICKCAST_GIT_HOST:"*) ;;
  *) echo "clickcast: no credentials for this host" >&2; exit 1 ;;
esac
case "$1" in
  Username*|username*) printf '%s\\n' "$CLICKCAST_GIT_USERNAME" ;;
  *) printf '%s\\n' "$CLICKCAST_GIT_PASSWORD" ;;
esac
"""
_HIDDEN = "*****"


class CredentialsError(ValueError):
    """The Secret cannot be used (the message names keys, never values)."""


@dataclass(frozen=True)
class GitCredentials:
    """What git needs to push: https username/password, or an ssh private key."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssh_private_key: str | None = field(default=None, repr=False)
    known_hosts: str | None = None
    hosts: tuple[str, ...] = ()
    """Lower-case `host` or `host:port` entries the credentials may be sent to."""

    @classmethod
    def from_secret(cls, data: Mapping[str, bytes | str]) -> GitCredentials:
        """From a Secret's (decoded) data."""
        unknown = sorted(set(data) - set(KEYS))
        if unknown:
            raise CredentialsError(f"unknown keys in the GitOps Secret: {', '.join(unknown)}; known: {', '.join(KEYS)}")
        values = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in data.items()}
        username = values.get(USERNAME, "").strip() or None
        password = values.get(PASSWORD, "").strip() or None
        key = values.get(SSH_PRIVATE_KEY, "").strip() or None
        if password is not None and key is not None:
            raise CredentialsError(f"the GitOps Secret has both {PASSWORD} and {SSH_PRIVATE_KEY}; keep one")
        if password is None and username is not None and key is None:
            raise CredentialsError(f"the GitOps Secret has a {USERNAME} but no {PASSWORD}")
        return cls(
            username=username,
            password=password,
            ssh_private_key=None if key is None else key + "\n",
            known_hosts=values.get(KNOWN_HOSTS) or None,
            hosts=tuple(h.lower() for h in re.split(r"[\s,]+", values.get(HOSTS, "")) if h),
        )

    @classmethod
    def from_directory(cls, path: Path) -> GitCredentials:
        """From a mounted Secret: one file per key (Kubernetes' `..data` links and dotfiles skipped)."""
        try:
            data = {
                p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")
            }
        except OSError as exc:
            raise CredentialsError(f"cannot read the GitOps Secret from {path}: {type(exc).__name__}") from None
        return cls.from_secret(data)

    def has_secret(self) -> bool:
        """A password or a key (known_hosts and hosts alone are not secrets)."""
        return self.password is not None or self.ssh_private_key is not None

    def allows(self, host: str, port: int | None = None) -> bool:
        """`host` is one the Secret names: `host` itself (any port) or `host:port`."""
        host = host.lower()
        return host in self.hosts or (port is not None and f"{host}:{port}" in self.hosts)

    def secrets(self) -> tuple[str, ...]:
        """Every string that must never be shown, with the forms git may print it in."""
        out: list[str] = []
        if self.password:
            user = self.username or ""
            out += [
                self.password,
                quote(self.password, safe=""),
                base64.b64encode(f"{user}:{self.password}".encode()).decode(),
            ]
        if self.ssh_private_key:
            out += [line for line in self.ssh_private_key.splitlines() if len(line) >= 16 and "-----" not in line]
        return tuple(s for s in out if s)


@dataclass(frozen=True)
class Scrubber:
    """Hides secret values and URL userinfo in text meant for messages and logs."""

    hidden: tuple[str, ...] = ()

    def __call__(self, text: str) -> str:
        for s in sorted(self.hidden, key=len, reverse=True):
            text = text.replace(s, _HIDDEN)
        return _USERINFO.sub(lambda m: f"{m['scheme']}{_HIDDEN}@", text)


@contextmanager
def git_environment(creds: GitCredentials | None, known_hosts: Path, *, host: str) -> Iterator[dict[str, str]]:
    """Environment for git commands that talk to the remote; the private files are removed on exit.

    `known_hosts` is where ssh host keys are remembered (accept-new: the first key seen is trusted,
    a changed key fails) unless the Secret brings its own `known_hosts`. `host`: the only host the https
    password is given to.
    """
    env = {"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never"}
    with tempfile.TemporaryDirectory(prefix="clickcast-git-") as tmp:
        private = Path(tmp)
        private.chmod(stat.S_IRWXU)
        if creds is not None and creds.password is not None:
            askpass = private / "askpass.sh"
            askpass.write_text(_ASKPASS)
            askpass.chmod(stat.S_IRWXU)
            env |= {
                "GIT_ASKPASS": str(askpass),
                "CLICKCAST_GIT_USERNAME": creds.username or "git",
                "CLICKCAST_GIT_PASSWORD": creds.password,
                "CLICKCAST_GIT_HOST": host,
            }
        ssh = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new"]
        hosts = known_hosts
        if creds is not None and creds.known_hosts is not None:
            hosts = private / "known_hosts"
            hosts.write_text(creds.known_hosts)
            ssh[-1] = "StrictHostKeyChecking=yes"
        ssh += ["-o", f"UserKnownHostsFile={hosts}"]
        if creds is not None and creds.ssh_private_key is not None:
            key = private / "id"
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(creds.ssh_private_key)
            ssh += ["-i", str(key), "-o", "IdentitiesOnly=yes"]
        env["GIT_SSH_COMMAND"] = shlex.join(ssh)
        yield env
