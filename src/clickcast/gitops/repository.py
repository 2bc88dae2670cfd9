"""Recording promotions in a Git repository: the `PromotionRepository` port and its GitPython implementation.

The operator calls `record(rec)` when a candidate is promoted and `state(rec)` to learn whether a
review branch was merged; both are blocking (run them in a worker thread from async code).

`GitPromotionRepository` keeps a bare clone in a cache directory and builds each commit with a
temporary index on top of the freshly fetched tip, so it never needs a working tree, a checkout or a
merge. Its guarantees:

- **One commit per promotion.** Before committing it looks for the trailer
  `Clickcast-Promotion: <namespace>/<name>@<version>` in the target branch's history and returns
  that commit instead. A commit made but not pushed (a crash, a failed push) is kept under
  `refs/clickcast/pending/…` in the cache and pushed as it is by the next call, as long as it still
  sits on the remote tip with the same content.
- **Commit mode** pushes to `branch`; a non-fast-forward rejection (another writer got there first)
  fetches the new tip, re-creates the commit on it (the files are rendered whole from the record, so
  this never conflicts) and pushes again, at most `max_attempts` times.
- **Branch mode** pushes `clickcast/promote-<namespace>-<name>-<version>` for review; the promotion
  counts as merged once a commit with its trailer is reachable from `branch` (a merge, a
  fast-forward, or a squash that keeps the message).
- Failures raise `GitOpsError` with one line naming the remote, the branch and what git said, with
  credentials scrubbed.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import git

from clickcast.api.spec import GitOps, GitOpsMode
from clickcast.gitops import record as rec_mod
from clickcast.gitops import remote
from clickcast.gitops.credentials import GitCredentials, Scrubber, git_environment
from clickcast.gitops.record import PromotionRecord

log = logging.getLogger(__name__)

REMOTE = "origin"
_REJECTED_NON_FF = ("non-fast-forward", "fetch first", "stale info")


class GitOpsError(Exception):
    """A promotion could not be recorded or read; the message is one line, without secrets."""

    def __init__(self, message: str, *, remote: str = "", branch: str = "", retryable: bool = True) -> None:
        super().__init__(message)
        self.remote = remote
        self.branch = branch
        self.retryable = retryable


@dataclass(frozen=True)
class GitResult:
    """Where a promotion stands in Git."""

    mode: GitOpsMode
    branch: str
    """Where `commit` was pushed: the target branch (commit mode) or the review branch (branch mode)."""
    commit: str | None
    """The commit recording the promotion (None: not recorded yet)."""
    merged: bool
    """The promotion's commit is reachable from the target branch (always so once commit mode succeeds)."""
    created: bool = False
    """This call pushed the commit (False: it was there already)."""
    message: str = ""
    """For humans: what is pending, or where the commit is."""


class PromotionRepository(Protocol):
    """Where promotions are recorded (the operator's port; blocking calls)."""

    def record(self, rec: PromotionRecord) -> GitResult:
        """Record `rec` once: push its commit (commit mode) or its review branch (branch mode). Idempotent."""

    def state(self, rec: PromotionRecord) -> GitResult:
        """Whether `rec` is recorded, and in branch mode merged; pushes nothing."""


def _one_line(text: str, limit: int = 300) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("hint:")]
    out = " | ".join(lines) or "no output"
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _cache_name(url: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", url.rsplit("/", 1)[-1].removesuffix(".git")).strip("-")[:40] or "repo"
    return f"{slug}-{hashlib.sha256(url.encode()).hexdigest()[:12]}.git"


@dataclass(frozen=True)
class _Push:
    ok: bool
    non_fast_forward: bool
    detail: str


class GitPromotionRepository:
    """`PromotionRepository` over a real remote, through GitPython and the git command line."""

    def __init__(
        self,
        gitops: GitOps,
        cache_dir: Path,
        credentials: GitCredentials | None = None,
        *,
        max_attempts: int = 5,
        timeout: float = 120.0,
        schemes: tuple[str, ...] = remote.SCHEMES,
    ) -> None:
        self._spec = gitops
        self._creds = credentials
        self._scrub = Scrubber(credentials.secrets() if credentials is not None else ())
        try:
            self._host = remote.check(gitops.repo_url, credentials, schemes).host
        except remote.RemoteRefusedError as exc:
            raise GitOpsError(str(exc), remote=self._scrub(gitops.repo_url), branch=gitops.branch,
                              retryable=False) from None  # fmt: skip
        self._url = gitops.repo_url
        self._remote = self._scrub(gitops.repo_url)
        self._cache_dir = cache_dir
        self._path = cache_dir / _cache_name(gitops.repo_url)
        self._max_attempts = max(1, max_attempts)
        self._timeout = timeout

    # The port.

    def record(self, rec: PromotionRecord) -> GitResult:
        with self._session() as s:
            if self._spec.mode is GitOpsMode.BRANCH:
                return s.record_branch(rec)
            return s.record_commit(rec)

    def state(self, rec: PromotionRecord) -> GitResult:
        with self._session() as s:
            return s.state(rec)

    # Plumbing.

    @contextmanager
    def _session(self) -> Iterator[_Session]:
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        lock_path = self._path.with_suffix(".lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one writer per clone, across threads and processes
            try:
                repo = self._open()
                with git_environment(self._creds, self._cache_dir / "known_hosts", host=self._host) as env:
                    yield _Session(
                        repo,
                        env,
                        self._spec,
                        remote=self._remote,
                        scrub=self._scrub,
                        timeout=self._timeout,
                        max_attempts=self._max_attempts,
                    )
            except git.GitError as exc:  # from GitPython itself (not a git command we ran): scrub and type it
                raise GitOpsError(
                    f"git on {self._remote} ({self._spec.branch}): {self._scrub(_one_line(str(exc)))}",
                    remote=self._remote,
                    branch=self._spec.branch,
                ) from None
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _open(self) -> git.Repo:
        if (self._path / "HEAD").exists():
            repo = git.Repo(self._path)
        else:
            repo = git.Repo.init(self._path, bare=True, mkdir=True)
        with repo.config_writer() as cfg:  # the URL as given (it has no password); remote-tracking refs only
            cfg.set_value(f'remote "{REMOTE}"', "url", self._url)
            cfg.set_value("gc", "auto", "0")
        return repo


class _Session:
    """One locked operation on the cache clone, with the credentials' environment."""

    def __init__(
        self,
        repo: git.Repo,
        env: Mapping[str, str],
        spec: GitOps,
        *,
        remote: str,
        scrub: Scrubber,
        timeout: float,
        max_attempts: int,
    ) -> None:
        self.repo = repo
        self.env = dict(env)
        self.spec = spec
        self.branch = spec.branch
        self.remote = remote
        self.scrub = scrub
        self.timeout = timeout
        self.max_attempts = max_attempts

    # Running git.

    def _run(self, *args: str, env: Mapping[str, str] | None = None, network: bool = False) -> tuple[int, str, str]:
        # Talking to the remote: no credential helper but ours, and no redirect to a host nobody checked.
        argv = (
            ["git", "-c", "credential.helper=", "-c", "http.followRedirects=false", *args]
            if network
            else ["git", *args]
        )
        status, out, err = self.repo.git.execute(
            argv,
            with_extended_output=True,
            with_exceptions=False,
            env={**self.env, **(env or {})},
            kill_after_timeout=self.timeout,
        )
        return int(status), str(out), str(err)

    def _check(self, what: str, *args: str, env: Mapping[str, str] | None = None, network: bool = False) -> str:
        status, out, err = self._run(*args, env=env, network=network)
        if status != 0:
            raise self._error(what, err or out)
        return out

    def _error(self, what: str, output: str, *, branch: str | None = None, retryable: bool = True) -> GitOpsError:
        b = branch or self.branch
        said = self.scrub(_one_line(output))
        return GitOpsError(
            f"git {what} {self.remote} (branch {b}) failed: {said}",
            remote=self.remote,
            branch=b,
            retryable=retryable,
        )

    # Reading the remote.

    def _sync(self, *branches: str) -> dict[str, str]:
        """Fetch the named remote branches that exist; their tips (missing branches are absent)."""
        heads = [f"refs/heads/{b}" for b in branches]
        out = self._check("ls-remote", "ls-remote", "--heads", REMOTE, *heads, network=True)
        tips: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if ref in heads:
                tips[ref.removeprefix("refs/heads/")] = sha
        if tips:
            specs = [f"+refs/heads/{b}:refs/remotes/{REMOTE}/{b}" for b in tips]
            self._check("fetch", "fetch", "--no-tags", "--no-write-fetch-head", REMOTE, *specs, network=True)
        for b in branches:
            if b not in tips:
                self._run("update-ref", "-d", f"refs/remotes/{REMOTE}/{b}")
        return tips

    def _find(self, rec: PromotionRecord, tip: str | None) -> str | None:
        """The newest commit reachable from `tip` that carries the promotion's trailer."""
        if tip is None:
            return None
        out = self._check(
            "log", "log", "--format=%H%x00%B%x1e", "--fixed-strings", f"--grep={rec_mod.trailer(rec)}", tip
        )
        for entry in out.split("\x1e"):
            sha, _, message = entry.strip("\n").partition("\x00")
            if sha and rec_mod.records(message, rec):
                return sha
        return None

    # Writing locally.

    def _tree(self, rec: PromotionRecord, tip: str | None) -> str:
        with tempfile.TemporaryDirectory(prefix="clickcast-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self._check("read-tree", "read-tree", *([tip] if tip else ["--empty"]), env=env)
            for path, content in sorted(rec_mod.files(rec, self.spec.path).items()):
                blob = Path(tmp) / "blob"
                blob.write_bytes(content)
                sha = self._check("hash-object", "hash-object", "-w", "--no-filters", str(blob)).strip()
                self._check("update-index", "update-index", "--add", "--cacheinfo", f"100644,{sha},{path}", env=env)
            return self._check("write-tree", "write-tree", env=env).strip()

    def _commit(self, rec: PromotionRecord, tip: str | None, tree: str) -> str:
        spec = self.spec
        who = {
            "GIT_AUTHOR_NAME": spec.author_name,
            "GIT_AUTHOR_EMAIL": spec.author_email,
            "GIT_AUTHOR_DATE": f"@{int(rec.time.timestamp())} +0000",  # git's own format: no parsing
            "GIT_COMMITTER_NAME": spec.author_name,
            "GIT_COMMITTER_EMAIL": spec.author_email,
        }
        parents = ["-p", tip] if tip else []
        return self._check(
            "commit-tree", "commit-tree", tree, *parents, "-m", rec_mod.commit_message(rec), env=who
        ).strip()

    def _pending(self, rec: PromotionRecord, tip: str | None, tree: str) -> str:
        """The unpushed commit of `rec` if it still fits (same parent, same files), else a new one."""
        ref = rec_mod.pending_ref(rec, self.spec.mode.value)
        status, out, _ = self._run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if status == 0:
            commit = self.repo.commit(out.strip())
            parents = [p.hexsha for p in commit.parents]
            if (
                parents == ([tip] if tip else [])
                and commit.tree.hexsha == tree
                and rec_mod.records(str(commit.message), rec)
            ):
                log.info("pushing the commit %s made earlier for %s", commit.hexsha[:12], rec.key)
                return commit.hexsha
        sha = self._commit(rec, tip, tree)
        self._check("update-ref", "update-ref", ref, sha)
        return sha

    def _drop_pending(self, rec: PromotionRecord) -> None:
        self._run("update-ref", "-d", rec_mod.pending_ref(rec, self.spec.mode.value))

    def _push(self, sha: str, branch: str) -> _Push:
        status, out, err = self._run("push", "--porcelain", REMOTE, f"{sha}:refs/heads/{branch}", network=True)
        if status == 0:
            return _Push(ok=True, non_fast_forward=False, detail="")
        rejected = [ln for ln in out.splitlines() if ln.startswith("!")]
        said = [ln.split("\t")[-1] for ln in rejected] + [ln for ln in err.splitlines() if ln.startswith("remote:")]
        detail = "\n".join(said) or err or out
        non_ff = any("[rejected]" in ln and any(r in ln for r in _REJECTED_NON_FF) for ln in rejected)
        return _Push(ok=False, non_fast_forward=non_ff, detail=detail)

    # The two modes.

    def record_commit(self, rec: PromotionRecord) -> GitResult:
        branch = self.branch
        for attempt in range(1, self.max_attempts + 1):
            tip = self._sync(branch).get(branch)
            if (found := self._find(rec, tip)) is not None:
                self._drop_pending(rec)
                return GitResult(GitOpsMode.COMMIT, branch, found, merged=True, message=f"recorded by {found[:12]}")
            sha = self._pending(rec, tip, self._tree(rec, tip))
            pushed = self._push(sha, branch)
            if pushed.ok:
                self._drop_pending(rec)
                log.info("recorded %s as %s on %s (%s)", rec.key, sha[:12], branch, self.remote)
                return GitResult(
                    GitOpsMode.COMMIT, branch, sha, merged=True, created=True, message=f"pushed {sha[:12]}"
                )
            if not pushed.non_fast_forward:
                raise self._error("push to", pushed.detail)
            log.info("%s moved while recording %s (attempt %d); retrying on the new tip", branch, rec.key, attempt)
        raise self._error("push to", f"the branch kept moving; gave up after {self.max_attempts} attempts")

    def record_branch(self, rec: PromotionRecord) -> GitResult:
        review = rec_mod.review_branch(rec)
        tips = self._sync(self.branch, review)
        if (result := self._state_branch(rec, tips)).commit is not None:
            self._drop_pending(rec)
            return result
        tip = tips.get(self.branch)
        sha = self._pending(rec, tip, self._tree(rec, tip))
        pushed = self._push(sha, review)
        if not pushed.ok:
            raise self._error("push to", pushed.detail, branch=review)
        self._drop_pending(rec)
        log.info("pushed %s for review as %s (%s)", rec.key, review, self.remote)
        return GitResult(
            GitOpsMode.BRANCH, review, sha, merged=False, created=True, message=f"awaiting review: merge {review}"
        )

    def _state_branch(self, rec: PromotionRecord, tips: Mapping[str, str]) -> GitResult:
        review = rec_mod.review_branch(rec)
        if (found := self._find(rec, tips.get(self.branch))) is not None:
            return GitResult(GitOpsMode.BRANCH, review, found, merged=True, message=f"merged into {self.branch}")
        if (head := self._find(rec, tips.get(review))) is not None:
            return GitResult(GitOpsMode.BRANCH, review, head, merged=False, message=f"awaiting review: merge {review}")
        return GitResult(GitOpsMode.BRANCH, review, None, merged=False, message="not recorded")

    def state(self, rec: PromotionRecord) -> GitResult:
        if self.spec.mode is GitOpsMode.BRANCH:
            return self._state_branch(rec, self._sync(self.branch, rec_mod.review_branch(rec)))
        tip = self._sync(self.branch).get(self.branch)
        if (found := self._find(rec, tip)) is not None:
            return GitResult(GitOpsMode.COMMIT, self.branch, found, merged=True, message=f"recorded by {found[:12]}")
        return GitResult(GitOpsMode.COMMIT, self.branch, None, merged=False, message="not recorded")
