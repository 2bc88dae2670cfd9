"""The operator's GitOps credentials: a Secret its role may not read is a clear refusal, not a bare 403."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from clickcast.api.spec import GitOps
from clickcast.gitops.credentials import CredentialsError
from clickcast.operator.git_credentials import GITOPS_SECRET, secret_credentials

pytestmark = pytest.mark.unit


class Refusing:
    """A KubeApi whose role forbids reading Secrets (the operator's, for any name but GITOPS_SECRET)."""

    def __init__(self, status: int) -> None:
        self.status = status

    def get(self, *_: Any) -> None:
        raise ApiException(status=self.status, reason="Forbidden")


def test_a_secret_the_role_does_not_grant_is_named_with_the_one_it_does() -> None:
    source = secret_credentials(Refusing(403))  # type: ignore[arg-type]
    gitops = GitOps(repo_url="https://git.example.com/r.git", secret_ref="team-git")
    with pytest.raises(CredentialsError) as refused:
        asyncio.run(source("ads", gitops))
    assert "ads/team-git" in str(refused.value) and GITOPS_SECRET in str(refused.value)
    with pytest.raises(ApiException):  # anything else is the reconciliation's error, retried as such
        asyncio.run(secret_credentials(Refusing(500))("ads", gitops))  # type: ignore[arg-type]
