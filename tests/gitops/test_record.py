"""What a promotion writes, rendered without Git: paths, deterministic bytes, the trailer; the push credentials."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from clickcast.api.status import CandidateStatus
from clickcast.gitops import record as rec_mod
from clickcast.gitops.credentials import CredentialsError, GitCredentials, Scrubber, git_environment
from tests.gitops.records import make_record

pytestmark = pytest.mark.unit


def test_paths_are_per_clickmodel_under_the_configured_directory() -> None:
    rec = make_record()
    assert rec_mod.release_path(rec, "models") == "models/ads/offers-ctr/release.yaml"
    assert rec_mod.evidence_path(rec, "deploy/models/") == "deploy/models/ads/offers-ctr/evidence/v2.json"
    assert sorted(rec_mod.files(rec, "models")) == [
        "models/ads/offers-ctr/evidence/v2.json",
        "models/ads/offers-ctr/release.yaml",
    ]


def test_rendering_is_deterministic_and_sorted() -> None:
    a, b = make_record(), make_record()
    assert rec_mod.files(a, "m") == rec_mod.files(b, "m")
    # the same instant in another zone renders the same bytes
    shifted = replace(a, time=a.time.astimezone(timezone(timedelta(hours=2))))
    assert rec_mod.files(shifted, "m") == rec_mod.files(a, "m")
    text = rec_mod.render_evidence(a).decode()
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


def test_the_pin_is_a_values_file_with_version_uri_and_checksum() -> None:
    values = yaml.safe_load(rec_mod.render_release(make_record()))
    assert values == {
        "clickModel": {"namespace": "ads", "name": "offers-ctr"},
        "model": {
            "version": "v2",
            "uri": "s3://models/ads/offers-ctr/v2",
            "checksum": "ab" * 32,
            "promotedAt": "2025-03-01T12:00:00Z",
            "previousVersion": "v1",
            "evidence": "evidence/v2.json",
        },
    }
    first = yaml.safe_load(rec_mod.render_release(make_record(previous=None)))
    assert "previousVersion" not in first["model"]


def test_the_evidence_holds_metrics_window_gates_canary_and_decision() -> None:
    doc = json.loads(rec_mod.render_evidence(make_record()))
    assert doc["kind"] == "PromotionEvidence" and doc["schemaVersion"] == 1
    assert doc["decision"] == {
        "outcome": "Promoted",
        "reason": "CanaryPassed",
        "message": "",
        "time": "2025-03-01T12:00:00Z",
    }
    assert doc["metrics"]["poissonDeviance"] == 0.41
    assert doc["data"]["fingerprint"] == "fp1" and doc["data"]["trainStart"] == "2025-01-01"
    assert doc["gates"] == [
        {"name": "absolute.maxPoissonDeviance", "passed": True, "value": 0.41, "limit": 0.5, "message": ""}
    ]
    assert doc["canary"]["verdict"] == "Pass" and doc["canary"]["sums"]["pairs"] == 7
    assert "canary" not in json.loads(rec_mod.render_evidence(replace(make_record(), canary=None)))


def test_the_commit_message_ends_with_the_trailer_and_matching_is_exact() -> None:
    rec = make_record("v1", None)
    message = rec_mod.commit_message(rec)
    assert message.splitlines()[0] == "Promote ads/offers-ctr to v1"
    assert message.splitlines()[-1] == "Clickcast-Promotion: ads/offers-ctr@v1"
    assert rec_mod.records(message, rec)
    assert not rec_mod.records(rec_mod.commit_message(make_record("v10")), rec)


def test_a_record_needs_a_promotable_candidate_and_an_aware_time() -> None:
    with pytest.raises(ValueError, match="no uri or checksum"):
        rec_mod.PromotionRecord.from_status("ads", "m", CandidateStatus(version="v1"), time=datetime.now(UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(make_record(), time=datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("version", "branch"),
    [
        ("v2", "clickcast/promote-ads-offers-ctr-v2"),
        ("2025-03-01T12:00", "clickcast/promote-ads-offers-ctr-2025-03-01T12-00"),
        ("a..b.lock", "clickcast/promote-ads-offers-ctr-a-b"),
    ],
)
def test_review_branch_names_are_valid_refs(version: str, branch: str) -> None:
    assert rec_mod.review_branch(make_record(version)) == branch


def test_secret_keys() -> None:
    https = GitCredentials.from_secret({"username": b"bot", "password": b"tok\n"})
    assert (https.username, https.password) == ("bot", "tok")
    assert "tok" not in repr(https)
    with pytest.raises(CredentialsError, match=r"unknown keys.*token"):
        GitCredentials.from_secret({"token": b"x"})
    with pytest.raises(CredentialsError, match="both password and ssh-privatekey"):
        GitCredentials.from_secret({"password": b"x", "ssh-privatekey": b"k"})
    with pytest.raises(CredentialsError, match="no password"):
        GitCredentials.from_secret({"username": b"bot"})


def test_a_mounted_secret_directory(tmp_path: Path) -> None:
    (tmp_path / "username").write_text("bot")
    (tmp_path / "password").write_text("tok")
    (tmp_path / "..data").mkdir()
    assert GitCredentials.from_directory(tmp_path) == GitCredentials("bot", "tok")


def test_the_scrubber_hides_values_and_url_userinfo() -> None:
    scrub = Scrubber(GitCredentials("bot", "p@ss word").secrets())
    said = scrub("fatal: https://bot:p%40ss%20word@host/x.git said p@ss word")
    assert "p@ss" not in said and "p%40ss" not in said and "https://*****@host/x.git" in said


def test_the_ssh_key_goes_to_a_private_file_used_only_while_the_command_runs(tmp_path: Path) -> None:
    creds = GitCredentials.from_secret(
        {"ssh-privatekey": b"-----BEGIN KEY-----\nAAAAkeymaterial0123456789\n-----END KEY-----"}
    )
    with git_environment(creds, tmp_path / "known_hosts", host="git.example.com") as env:
        ssh = shlex.split(env["GIT_SSH_COMMAND"])
        key = Path(ssh[ssh.index("-i") + 1])
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
        assert key.read_text().endswith("-----END KEY-----\n")
        assert "IdentitiesOnly=yes" in ssh and "StrictHostKeyChecking=accept-new" in ssh
        assert f"UserKnownHostsFile={tmp_path / 'known_hosts'}" in ssh
        assert "GIT_ASKPASS" not in env and env["GIT_TERMINAL_PROMPT"] == "0"
    assert not key.exists()
    assert "AAAAkeymaterial0123456789" in creds.secrets()


def test_https_credentials_reach_git_through_askpass_only(tmp_path: Path) -> None:
    with git_environment(GitCredentials("bot", "tok"), tmp_path / "kh", host="git.example.com") as env:
        askpass = Path(env["GIT_ASKPASS"])
        assert os.access(askpass, os.X_OK) and "tok" not in askpass.read_text()
        assert env["CLICKCAST_GIT_PASSWORD"] == "tok"

        def ask(prompt: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([str(askpass), prompt], env=env, capture_output=True, text=True, check=False)

        # The prompts git writes: answered for the host the script was written for, on any port...
        assert ask("Username for 'https://git.example.com': ").stdout == "bot\n"
        assert ask("Password for 'https://bot@git.example.com:8443': ").stdout == "tok\n"
        # ...and for no other host, however its name resembles the right one.
        for other in (
            "https://git.example.com.evil.test",
            "https://evil.test/git.example.com",
            "https://xgit.example.com",
        ):
            answer = ask(f"Password for '{other}': ")
            assert answer.returncode != 0 and "tok" not in answer.stdout, other
    assert not askpass.exists()
