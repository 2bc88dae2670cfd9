"""GitOps for every shell: the core's RecordPromotion carried out, and the promotion's state in Git observed.

One `GitOpsBridge` per process keeps the last error per promotion, which the observer hands to the core (a
failed push is a condition, not a silent retry). Credentials come from a source the shell provides (the
operator reads the Secret `spec.promotion.gitops.secretRef` names at each use, so a rotated Secret takes
effect without a restart; `clickcast run` pushes to local repositories without any).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from clickcast.api.spec import ClickModelSpec, GitOps
from clickcast.api.status import ClickModelStatus, Phase
from clickcast.core.observed import GitPromotion
from clickcast.core.plan import RecordPromotion
from clickcast.gitops import remote
from clickcast.gitops.credentials import CredentialsError, GitCredentials
from clickcast.gitops.record import PromotionRecord
from clickcast.gitops.repository import GitOpsError, GitPromotionRepository

log = logging.getLogger("clickcast.gitops")
CredentialSource = Callable[[str, GitOps], Awaitable[GitCredentials | None]]
"""(namespace, spec.promotion.gitops) -> the credentials to push with (None: none needed)."""


async def no_credentials(namespace: str, gitops: GitOps) -> GitCredentials | None:
    if gitops.secret_ref:
        raise CredentialsError("spec.promotion.gitops.secretRef: Secrets are only read by the operator")
    return None


class GitOpsBridge:
    def __init__(self, cache_dir: str | Path, credentials: CredentialSource = no_credentials,
                 schemes: tuple[str, ...] = remote.SCHEMES) -> None:  # fmt: skip
        self.cache_dir = Path(cache_dir)
        self.credentials = credentials
        self.schemes = schemes
        """The URL schemes this process pushes to (the operator: its setting; `clickcast run`: any)."""
        self.errors: dict[str, GitOpsError | CredentialsError] = {}
        """Last error per promotion key (namespace/name@version); cleared by a success."""

    async def record(self, namespace: str, name: str, spec: ClickModelSpec, action: RecordPromotion) -> None:
        """Carry out RecordPromotion; a failure is remembered for the next observation, not raised."""
        gitops = spec.promotion.gitops
        assert gitops is not None  # the core asks only when it is set
        rec = PromotionRecord.from_status(
            namespace,
            name,
            action.candidate,
            time=action.time,
            previous=action.previous,
            canary=action.canary,
            reason=action.reason,
        )
        try:
            repo = await self._repository(namespace, gitops)
            result = await asyncio.to_thread(repo.record, rec)
        except (GitOpsError, CredentialsError) as exc:
            self.errors[rec.key] = exc
            log.warning("recording %s in Git failed: %s", rec.key, exc, extra={"clickmodel": f"{namespace}/{name}"})
            return
        self.errors.pop(rec.key, None)
        log.info("%s recorded in Git: %s", rec.key, result.message, extra={"clickmodel": f"{namespace}/{name}"})

    async def observe(self, namespace: str, name: str, spec: ClickModelSpec,
                      status: ClickModelStatus) -> GitPromotion | None:  # fmt: skip
        """The candidate's promotion in Git, while it is being promoted and not yet recorded."""
        c, gitops = status.candidate, spec.promotion.gitops
        if gitops is None or c is None or status.phase is not Phase.PROMOTING or c.git_commit is not None:
            return None
        if c.uri is None or c.manifest_sha256 is None or c.promotion_decided_at is None:
            return None
        rec = PromotionRecord.from_status(namespace, name, c, time=c.promotion_decided_at, previous=status.stable)
        error = self.errors.get(rec.key)
        try:
            repo = await self._repository(namespace, gitops)
            state = await asyncio.to_thread(repo.state, rec)
        except (GitOpsError, CredentialsError) as exc:
            error = error or exc
            return GitPromotion(error=str(error), refused=_refused(error))
        return GitPromotion(commit=state.commit, merged=state.merged, branch=state.branch,
                            error=str(error) if error else None, refused=_refused(error))  # fmt: skip

    async def _repository(self, namespace: str, gitops: GitOps) -> GitPromotionRepository:
        creds = await self.credentials(namespace, gitops)
        return GitPromotionRepository(gitops, self.cache_dir / namespace, creds, schemes=self.schemes)


def _refused(error: GitOpsError | CredentialsError | None) -> bool:
    return isinstance(error, GitOpsError) and not error.retryable
