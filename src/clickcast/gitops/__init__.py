"""GitOps promotion: each promotion recorded in a Git repository, with its evidence.

`record` renders what a promotion writes (pure); `repository` pushes it (the `PromotionRepository`
port and its GitPython implementation); `credentials` turns the push Secret into a git environment.
No Kubernetes here: the operator reads the Secret and calls the port.
"""

from clickcast.gitops.credentials import CredentialsError, GitCredentials
from clickcast.gitops.record import PromotionRecord
from clickcast.gitops.repository import GitOpsError, GitPromotionRepository, GitResult, PromotionRepository

__all__ = [
    "CredentialsError",
    "GitCredentials",
    "GitOpsError",
    "GitPromotionRepository",
    "GitResult",
    "PromotionRecord",
    "PromotionRepository",
]
