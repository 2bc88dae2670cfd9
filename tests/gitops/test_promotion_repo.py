"""GitPromotionRepository against real repositories: local bare ones, and one served over HTTP with basic auth.

Each promotion must land as exactly one commit, whatever happens around it: a second call, another
writer pushing first, a crash between commit and push, a rejected push.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from clickcast.api.spec import GitOps, GitOpsMode
from clickcast.gitops import GitCredentials, GitOpsError, GitPromotionRepository, PromotionRecord
from clickcast.gitops import record as rec_mod
from clickcast.gitops import repository as repo_mod
from tests.gitops.git_http import GitHttpServer, serve
from tests.gitops.records import make_record

pytestmark = [pytest.mark.gitops, pytest.mark.timeout(60)]


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "someone",
        "GIT_AUTHOR_EMAIL": "someone@example.com",
        "GIT_COMMITTER_NAME": "someone",
        "GIT_COMMITTER_EMAIL": "someone@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository whose main branch has one commit (a README)."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "--quiet", str(bare), str(seed))
    (seed / "README.md").write_text("model releases\n")
    git(seed, "add", "README.md")
    git(seed, "commit", "--quiet", "-m", "Start")
    git(seed, "push", "--quiet", "origin", "HEAD:main")
    return bare


def repository(
    url: str | Path, cache: Path, mode: GitOpsMode = GitOpsMode.COMMIT, **kwargs: object
) -> GitPromotionRepository:
    spec = GitOps(repo_url=str(url), branch="main", path="models", mode=mode, author_name="bot", author_email="bot@x")
    return GitPromotionRepository(spec, cache, **kwargs)  # type: ignore[arg-type]


def trailer_commits(bare: Path, ref: str = "main", rec: PromotionRecord | None = None) -> list[str]:
    wanted = rec_mod.trailer(rec or make_record())
    out = git(bare, "log", "--format=%H", "--fixed-strings", f"--grep={wanted}", ref)
    return out.split()


def other_clone(tmp_path: Path, bare: Path, name: str = "other") -> Path:
    work = tmp_path / name
    git(tmp_path, "clone", "--quiet", str(bare), str(work))
    return work


def test_commit_mode_records_one_commit_with_both_files_and_the_trailer(remote: Path, tmp_path: Path) -> None:
    rec = make_record()
    before = git(remote, "rev-parse", "main")

    result = repository(remote, tmp_path / "cache").record(rec)

    assert result.created and result.merged and result.mode is GitOpsMode.COMMIT and result.branch == "main"
    assert result.commit == git(remote, "rev-parse", "main")
    assert git(remote, "rev-parse", "main^") == before
    changed = git(remote, "show", "--name-only", "--format=", "main").split()
    assert sorted(changed) == ["models/ads/offers-ctr/evidence/v2.json", "models/ads/offers-ctr/release.yaml"]
    for path, content in rec_mod.files(rec, "models").items():
        assert git(remote, "show", f"main:{path}") == content.decode().strip()
    message = git(remote, "log", "-1", "--format=%B", "main")
    assert message.splitlines()[-1] == "Clickcast-Promotion: ads/offers-ctr@v2"
    assert git(remote, "log", "-1", "--format=%an <%ae>|%aI", "main") == "bot <bot@x>|2025-03-01T12:00:00+00:00"


def test_recording_the_same_promotion_again_adds_nothing(remote: Path, tmp_path: Path) -> None:
    rec = make_record()
    first = repository(remote, tmp_path / "cache").record(rec)
    again = repository(remote, tmp_path / "cache").record(rec)
    elsewhere = repository(remote, tmp_path / "another-replica").record(rec)  # a fresh clone finds it too

    assert again.commit == elsewhere.commit == first.commit
    assert not again.created and not elsewhere.created and again.merged
    assert git(remote, "rev-list", "--count", "main") == "2"


def test_a_second_version_is_a_second_commit_that_rewrites_the_pin(remote: Path, tmp_path: Path) -> None:
    repo = repository(remote, tmp_path / "cache")
    repo.record(make_record("v2", "v1"))
    repo.record(make_record("v3", "v2"))

    assert git(remote, "rev-list", "--count", "main") == "3"
    assert "version: v3" in git(remote, "show", "main:models/ads/offers-ctr/release.yaml")
    assert git(remote, "ls-tree", "--name-only", "main", "models/ads/offers-ctr/evidence/").split() == [
        "models/ads/offers-ctr/evidence/v2.json",
        "models/ads/offers-ctr/evidence/v3.json",
    ]


def test_an_empty_repository_gets_the_branch(tmp_path: Path) -> None:
    bare = tmp_path / "empty.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(bare))

    result = repository(bare, tmp_path / "cache").record(make_record())

    assert result.created and git(bare, "rev-list", "--count", "main") == "1"


def test_a_writer_pushing_first_makes_a_retry_on_the_new_tip(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between our fetch and our push another clone pushes: the push is rejected, we re-fetch and re-commit."""
    work = other_clone(tmp_path, remote)
    real_push = repo_mod._Session._push
    pushes: list[str] = []

    def push_after_the_other_writer(self: repo_mod._Session, sha: str, branch: str) -> repo_mod._Push:
        if not pushes:
            (work / "NOTES.md").write_text("a human was here\n")
            git(work, "add", "NOTES.md")
            git(work, "commit", "--quiet", "-m", "Notes")
            git(work, "push", "--quiet", "origin", "HEAD:main")
        pushes.append(sha)
        return real_push(self, sha, branch)

    monkeypatch.setattr(repo_mod._Session, "_push", push_after_the_other_writer)
    result = repository(remote, tmp_path / "cache").record(make_record())

    assert len(pushes) == 2 and pushes[0] != pushes[1]  # rejected, then re-created on the new tip
    assert result.created and result.commit == pushes[1] == git(remote, "rev-parse", "main")
    assert git(remote, "log", "--format=%s", "main").splitlines() == [
        "Promote ads/offers-ctr to v2 (was v1)",
        "Notes",
        "Start",
    ]
    assert trailer_commits(remote) == [result.commit]


def test_a_branch_that_keeps_moving_gives_up_after_the_bounded_attempts(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = other_clone(tmp_path, remote)
    real_push = repo_mod._Session._push

    def always_late(self: repo_mod._Session, sha: str, branch: str) -> repo_mod._Push:
        git(work, "commit", "--quiet", "--allow-empty", "-m", "busy")
        git(work, "push", "--quiet", "origin", "HEAD:main")
        return real_push(self, sha, branch)

    monkeypatch.setattr(repo_mod._Session, "_push", always_late)
    with pytest.raises(GitOpsError, match=r"gave up after 3 attempts") as info:
        repository(remote, tmp_path / "cache", max_attempts=3).record(make_record())

    assert "\n" not in str(info.value) and str(remote) in str(info.value)
    assert trailer_commits(remote) == []


def test_a_crash_between_commit_and_push_pushes_the_same_commit_later(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []

    def crash(self: repo_mod._Session, sha: str, branch: str) -> repo_mod._Push:
        made.append(sha)
        raise KeyboardInterrupt  # the process dies here: the commit exists only in the cache clone

    with monkeypatch.context() as m:
        m.setattr(repo_mod._Session, "_push", crash)
        with pytest.raises(KeyboardInterrupt):
            repository(remote, tmp_path / "cache").record(make_record())
    assert trailer_commits(remote) == []

    result = repository(remote, tmp_path / "cache").record(make_record())

    assert result.created and result.commit == made[0]
    assert trailer_commits(remote) == made


def test_a_rejected_push_raises_a_clear_error_and_a_retry_commits_once(remote: Path, tmp_path: Path) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'releases are frozen today' >&2\nexit 1\n")
    hook.chmod(0o755)
    repo = repository(remote, tmp_path / "cache")

    with pytest.raises(GitOpsError) as info:
        repo.record(make_record())

    message = str(info.value)
    assert "\n" not in message
    assert f"push to {remote} (branch main) failed" in message
    assert "pre-receive hook declined" in message and "releases are frozen today" in message
    assert info.value.remote == str(remote) and info.value.branch == "main"
    assert trailer_commits(remote) == []

    hook.unlink()
    first = repo.record(make_record())
    second = repo.record(make_record())
    assert first.created and not second.created and first.commit == second.commit
    assert trailer_commits(remote) == [first.commit]
    assert git(remote, "rev-list", "--count", "main") == "2"


def test_a_missing_remote_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.git"
    with pytest.raises(GitOpsError) as info:
        repository(missing, tmp_path / "cache").record(make_record())
    assert str(info.value).startswith(f"git ls-remote {missing} (branch main) failed: ")
    assert "\n" not in str(info.value)


def test_state_in_commit_mode(remote: Path, tmp_path: Path) -> None:
    repo = repository(remote, tmp_path / "cache")
    assert repo.state(make_record()).commit is None
    assert not repo.state(make_record()).merged
    recorded = repo.record(make_record())
    state = repo.state(make_record())
    assert state.merged and state.commit == recorded.commit and not state.created


def test_branch_mode_pushes_a_review_branch_and_reports_merged_once_merged(remote: Path, tmp_path: Path) -> None:
    rec = make_record()
    repo = repository(remote, tmp_path / "cache", mode=GitOpsMode.BRANCH)
    main_before = git(remote, "rev-parse", "main")

    result = repo.record(rec)

    review = "clickcast/promote-ads-offers-ctr-v2"
    assert result.mode is GitOpsMode.BRANCH and result.branch == review
    assert result.created and not result.merged and result.commit == git(remote, "rev-parse", review)
    assert git(remote, "rev-parse", "main") == main_before
    assert trailer_commits(remote, review) == [result.commit]

    refs_before = git(remote, "for-each-ref")
    state = repo.state(rec)
    assert not state.merged and state.commit == result.commit and "awaiting review" in state.message
    again = repo.record(rec)
    assert not again.created and again.commit == result.commit
    assert git(remote, "for-each-ref") == refs_before  # state() and the repeated record() pushed nothing

    work = other_clone(tmp_path, remote, "reviewer")
    git(work, "merge", "--quiet", "--no-ff", "-m", f"Merge {review}", f"origin/{review}")
    git(work, "push", "--quiet", "origin", "HEAD:main")

    merged = repo.state(rec)
    assert merged.merged and merged.commit == result.commit and merged.branch == review
    assert repo.record(rec).merged


def test_branch_mode_sees_a_squash_merge_by_its_trailer(remote: Path, tmp_path: Path) -> None:
    rec = make_record()
    repo = repository(remote, tmp_path / "cache", mode=GitOpsMode.BRANCH)
    pushed = repo.record(rec)

    work = other_clone(tmp_path, remote, "reviewer")
    git(work, "merge", "--quiet", "--squash", f"origin/{pushed.branch}")
    git(work, "commit", "--quiet", "-m", f"Squashed\n\n{rec_mod.trailer(rec)}")
    git(work, "push", "--quiet", "origin", "HEAD:main", f":{pushed.branch}")  # and the branch deleted

    state = repo.state(rec)
    assert state.merged and state.commit == git(remote, "rev-parse", "main")


@pytest.fixture
def http_server(tmp_path: Path) -> GitHttpServer:
    root = tmp_path / "srv"
    root.mkdir()
    git(root, "init", "--quiet", "--bare", "-b", "main", "releases.git")
    return GitHttpServer(root=root, username="clickcast-bot", password="s3cr3t-T0ken/with+chars")


def test_over_http_basic_auth_the_password_never_shows(
    http_server: GitHttpServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = http_server.password
    creds = GitCredentials.from_secret(
        {"username": b"clickcast-bot", "password": password.encode(), "hosts": b"127.0.0.1"}
    )
    assert password not in repr(creds)
    cache = tmp_path / "cache"
    with serve(http_server) as srv:
        url = srv.url("releases.git")
        repo = repository(url, cache, credentials=creds)
        result = repo.record(make_record())
        assert result.created and repo.record(make_record()).commit == result.commit
        assert repo.state(make_record()).merged

        with pytest.raises(GitOpsError) as wrong:
            repository(
                url, tmp_path / "cache2", credentials=GitCredentials("clickcast-bot", "not-it", hosts=("127.0.0.1",))
            ).record(make_record("v3"))
        with pytest.raises(GitOpsError) as none:
            repository(url, tmp_path / "cache3").record(make_record("v3"))

    assert git(http_server.root / "releases.git", "rev-parse", "main") == result.commit
    assert url in str(wrong.value) and "not-it" not in str(wrong.value)
    assert "\n" not in str(none.value) and url in str(none.value)
    config = next(cache.glob("*.git")) / "config"
    assert url in config.read_text()
    everywhere = [str(wrong.value), str(none.value), caplog.text, *srv.log, str(result)]
    everywhere += [p.read_bytes().decode(errors="replace") for p in cache.rglob("*") if p.is_file()]
    assert not any(password in text for text in everywhere)
    assert srv.log  # the server did log its requests


def test_a_password_in_the_url_is_refused_without_showing_it(tmp_path: Path) -> None:
    with pytest.raises(GitOpsError) as info:
        repository("https://bot:hunter2-token@git.example.com/releases.git", tmp_path / "cache")
    assert "hunter2-token" not in str(info.value) and "put it in the Secret" in str(info.value)
