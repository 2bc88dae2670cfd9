"""Which GitOps remotes the operator talks to, and with which credentials: a pure check before any git runs.

A ClickModel's author chooses `spec.promotion.gitops.repoUrl`, but the push credentials are a Secret a
platform team keeps. So, before a credential leaves the operator:

- the URL's scheme must be one the operator allows (default https and ssh: `http://` sends the password in
  clear text, and `file://` or a local path writes into the operator's own filesystem);
- an https URL carries no userinfo (a token given as the username would land in git's config and in
  messages), and an ssh user name is a user name (`git`), not something shaped like a token;
- a Secret with credentials names the host(s) it is for (key `hosts`), and the URL's host is one of them,
  so a ClickModel cannot send a team's token to a server of its choosing.

git itself then runs with redirects off (clickcast.gitops.repository), so the host checked is the host
asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from clickcast.gitops.credentials import HOSTS, CredentialsError, GitCredentials

SCHEMES = ("https", "ssh", "http", "file")
"""Every scheme a GitOps URL may have (the CRD's pattern); `file` also stands for a local path."""
DEFAULT_SCHEMES = ("https", "ssh")
"""What the operator allows unless told otherwise (chart value operator.gitops.schemes)."""

FIELD = "spec.promotion.gitops.repoUrl"
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:\s]+)@)?(?P<host>[^@/:\s]+):(?!//)")
# Shapes of access tokens people paste as a user name: known prefixes, or long runs of token alphabet.
_TOKEN_LIKE = re.compile(r"^(ghp_|gho_|ghu_|ghs_|github_pat_|glpat-|glptt-|xox[abp]-)|^[A-Za-z0-9_\-]{32,}$")


class RemoteRefusedError(CredentialsError):
    """The URL or the Secret breaks the operator's GitOps rules; the message names the field, never a secret."""


@dataclass(frozen=True)
class Remote:
    scheme: str
    """https, ssh, http or file."""
    host: str
    """Lower-case host name ('' for file)."""
    port: int | None = None
    user: str | None = None


def parse(url: str) -> Remote:
    """The parts of a GitOps URL (https://, http://, ssh://, scp-like user@host:path, file://, /path)."""
    if url.startswith("/"):
        return Remote("file", "")
    if "://" not in url:
        scp = _SCP_LIKE.match(url)
        if scp is None:
            raise RemoteRefusedError(f"{FIELD}: {_redact(url)} is not a URL git can push to")
        return Remote("ssh", scp["host"].lower(), None, scp["user"])
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise RemoteRefusedError(f"{FIELD}: the scheme {scheme}:// is not one of {', '.join(SCHEMES)}")
    try:
        port = parts.port
    except ValueError:
        raise RemoteRefusedError(f"{FIELD}: {_redact(url)} has an invalid port") from None
    if parts.password is not None:
        raise RemoteRefusedError(f"{FIELD}: {_redact(url)} carries a password; put it in the Secret secretRef names")
    return Remote(scheme, (parts.hostname or "").lower(), port, parts.username)


def check(url: str, credentials: GitCredentials | None, schemes: tuple[str, ...] = SCHEMES) -> Remote:
    """The remote, if the operator may talk to it with `credentials`; raises RemoteRefusedError otherwise."""
    remote = parse(url)
    if remote.scheme not in schemes:
        raise RemoteRefusedError(
            f"{FIELD}: {remote.scheme}:// is not allowed by this operator (allowed: {', '.join(schemes) or 'none'}; "
            "the operator's setting --git-schemes, chart value operator.gitops.schemes)"
        )
    if remote.user is not None and remote.scheme in ("https", "http"):
        raise RemoteRefusedError(
            f"{FIELD}: {_redact(url)} carries a user name; put username and password in the Secret secretRef names"
        )
    if remote.user is not None and _TOKEN_LIKE.search(remote.user):
        raise RemoteRefusedError(f"{FIELD}: the user name of {_redact(url)} looks like an access token; use the Secret")
    if credentials is not None and credentials.has_secret():
        if remote.scheme == "file":
            raise RemoteRefusedError(f"{FIELD}: a local repository takes no credentials; drop secretRef")
        if not credentials.hosts:
            raise RemoteRefusedError(
                f"spec.promotion.gitops.secretRef: the Secret names no hosts it is for (key {HOSTS}, e.g. "
                f"'{remote.host}'); it is not used until it does"
            )
        if not credentials.allows(remote.host, remote.port):
            raise RemoteRefusedError(
                f"spec.promotion.gitops.secretRef: the Secret is for {', '.join(credentials.hosts)}, "
                f"not {_where(remote)}"
            )
    return remote


def _where(remote: Remote) -> str:
    return remote.host if remote.port is None else f"{remote.host}:{remote.port}"


def _redact(url: str) -> str:
    """The URL without its userinfo (which may be a secret): `scheme://*****@host/...`, `*****@host:path`."""
    if "://" in url:
        return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@", r"\1*****@", url)
    return re.sub(r"^[^/@:\s]+@", "*****@", url)
