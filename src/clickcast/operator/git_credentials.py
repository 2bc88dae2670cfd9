"""GitOps push credentials of the operator: the Secret `spec.promotion.gitops.secretRef` names, read at each use."""

from __future__ import annotations

import asyncio
import base64

from clickcast.api.spec import GitOps
from clickcast.gitops.credentials import CredentialsError, GitCredentials
from clickcast.operator.kube import KubeApi, forbidden
from clickcast.runtime.gitops import CredentialSource

GITOPS_SECRET = "clickcast-gitops"
"""The one Secret name the operator's RBAC lets it read (manifests/rbac: resourceNames)."""


def secret_credentials(kube: KubeApi) -> CredentialSource:
    """A rotated Secret takes effect at the next push, without a restart."""

    async def credentials(namespace: str, gitops: GitOps) -> GitCredentials | None:
        if not gitops.secret_ref:
            return None
        try:
            secret = await asyncio.to_thread(kube.get, "v1", "Secret", namespace, gitops.secret_ref)
        except Exception as exc:
            if not forbidden(exc):
                raise
            # Said where the author looks (the Promoted condition), not as a bare 403 of the reconciliation.
            raise CredentialsError(
                f"spec.promotion.gitops.secretRef: the operator may not read Secret {namespace}/{gitops.secret_ref}: "
                f"its role grants the Secrets named {GITOPS_SECRET} only (name the Secret so, or add its name to the "
                "role's resourceNames)"
            ) from None
        if secret is None:
            raise CredentialsError(f"spec.promotion.gitops.secretRef: Secret {namespace}/{gitops.secret_ref} "
                                   "not found")  # fmt: skip
        data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
        return GitCredentials.from_secret(data)

    return credentials
