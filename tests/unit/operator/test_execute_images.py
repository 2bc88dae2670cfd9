"""The operator resolves a ClickModel's images once, where its actions become objects: a spec that names none
runs the operator's (CLICKCAST_JOBS_IMAGE / CLICKCAST_SERVING_IMAGE), one that names its own runs that."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
import yaml

from clickcast.api.images import Images
from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.core.plan import Deploy, StartTraining, VersionPin
from clickcast.jobs.manifests import MODEL_ANNOTATION
from clickcast.operator.config import OperatorConfig
from clickcast.operator.execute import KubeExecutor
from clickcast.operator.kube import Doc, KubeApi
from tests.manifests import MINIMAL

pytestmark = pytest.mark.unit
IMAGES = Images.of("registry.example.com/team", "1.2")
OBJ = {"apiVersion": "clickcast.io/v1alpha1", "kind": "ClickModel",
       "metadata": {"name": "offers", "namespace": "ads", "uid": "u1"}}  # fmt: skip
PIN = VersionPin("v1", "s3://clickcast/models/offers/v1", "ab" * 32)


class Recorder:
    """The calls of KubeApi the executor makes for a training and a deployment, kept rather than sent."""

    def __init__(self) -> None:
        self.docs: list[Doc] = []

    def create(self, doc: Doc) -> bool:
        self.docs.append(doc)
        return True

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> Doc | None:
        return None  # nothing there yet: every name is free

    def apply(self, doc: Doc, resource_version: str | None = None) -> None:
        self.docs.append(doc)

    def of(self, kind: str) -> Doc:
        return next(d for d in self.docs if d["kind"] == kind)


def run(spec: ClickModelSpec) -> Recorder:
    kube = Recorder()
    config = OperatorConfig.from_env({"CLICKCAST_JOBS_IMAGE": IMAGES.jobs, "CLICKCAST_SERVING_IMAGE": IMAGES.serving})
    executor = KubeExecutor(cast(KubeApi, kube), OBJ, config)

    async def both() -> None:
        await executor.apply("offers", spec, StartTraining("offers-train-v1", "v1", None))
        await executor.apply("offers", spec, Deploy(Role.STABLE, PIN))

    asyncio.run(both())
    return kube


def images(kube: Recorder) -> tuple[str, str, Any]:
    job = kube.of("Job")["spec"]["template"]["spec"]["containers"][0]["image"]
    deployment = kube.of("Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    frozen_doc = kube.of("Job")["spec"]["template"]["metadata"]["annotations"][MODEL_ANNOTATION]
    frozen = yaml.safe_load(frozen_doc)["spec"]["training"].get("image")
    return job, deployment, frozen


def test_a_spec_without_images_runs_the_operators() -> None:
    job, deployment, frozen = images(run(ClickModelSpec.model_validate(MINIMAL["spec"])))
    assert (job, deployment) == (IMAGES.jobs, IMAGES.serving)
    assert frozen == IMAGES.jobs, "the run's frozen ClickModel names the image that ran it"


def test_an_image_the_spec_names_wins() -> None:
    own = {**MINIMAL["spec"], "training": {"image": "mine/jobs:7"}, "serving": {"image": "mine/serving:7"}}
    job, deployment, frozen = images(run(ClickModelSpec.model_validate(own)))
    assert (job, deployment, frozen) == ("mine/jobs:7", "mine/serving:7", "mine/jobs:7")
