"""The ClickModel API (clickcast.io/v1alpha1): spec, status, CRD generation, offline validation.

Pure data and rules: no Kubernetes client, no Spark, no I/O beyond reading a manifest.
"""

from clickcast.api.resource import API_VERSION, GROUP, KIND, PLURAL, VERSION, ClickModel
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus, Phase

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "ClickModel",
    "ClickModelSpec",
    "ClickModelStatus",
    "Phase",
]
