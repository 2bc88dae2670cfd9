"""Which images a ClickModel runs: its own when it names them, else the operator's; the CRD fills in none."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from clickcast import __version__
from clickcast.api.crd import custom_resource_definition
from clickcast.api.images import (
    DEFAULT_REGISTRY,
    Images,
    UnresolvedImage,
    resolve_images,
    serving_image,
    training_image,
)
from clickcast.api.spec import ClickModelSpec
from tests.manifests import MINIMAL

pytestmark = pytest.mark.unit
DEFAULTS = Images.of("registry.example.com/team", "1.2")


def spec(training: str | None = None, serving: str | None = None) -> ClickModelSpec:
    doc = {**MINIMAL["spec"], "training": {"image": training} if training else {},
           "serving": {"image": serving} if serving else {}}  # fmt: skip
    return ClickModelSpec.model_validate(doc)


def test_released_images_are_the_registry_and_the_package_version() -> None:
    assert Images.of() == Images(f"{DEFAULT_REGISTRY}/jobs:{__version__}", f"{DEFAULT_REGISTRY}/serving:{__version__}")
    assert Images.of("registry.example.com/team/", "dev").jobs == "registry.example.com/team/jobs:dev"
    with pytest.raises(ValueError, match="empty"):
        Images(jobs="", serving="s")


@pytest.mark.parametrize(
    ("training", "serving", "expected"),
    [
        (None, None, (DEFAULTS.jobs, DEFAULTS.serving)),
        ("mine/jobs:7", None, ("mine/jobs:7", DEFAULTS.serving)),
        (None, "mine/serving:7", (DEFAULTS.jobs, "mine/serving:7")),
        ("mine/jobs:7", "mine/serving:7", ("mine/jobs:7", "mine/serving:7")),
    ],
    ids=["none-named", "jobs-named", "serving-named", "both-named"],
)
def test_an_image_the_spec_names_wins_and_one_it_leaves_unset_is_the_operators(
    training: str | None, serving: str | None, expected: tuple[str, str]
) -> None:
    given = spec(training, serving)
    resolved = resolve_images(given, DEFAULTS)
    assert (training_image(resolved.training), serving_image(resolved.serving)) == expected
    assert resolved.model_copy(update={"training": given.training, "serving": given.serving}) == given, "nothing else"
    assert (given.training.image, given.serving.image) == (training, serving), "the spec itself is not changed"


def test_builders_refuse_an_unresolved_spec() -> None:
    with pytest.raises(UnresolvedImage, match=r"spec\.training\.image"):
        training_image(spec().training)
    with pytest.raises(UnresolvedImage, match=r"spec\.serving\.image"):
        serving_image(spec().serving)


def test_an_empty_image_is_still_refused_when_given() -> None:
    for section in ("training", "serving"):
        with pytest.raises(ValidationError, match=rf"{section}\.image"):
            ClickModelSpec.model_validate({**MINIMAL["spec"], section: {"image": ""}})


def test_the_crd_defaults_no_image_and_the_wire_format_carries_none() -> None:
    props = custom_resource_definition()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    for section in ("training", "serving"):
        image = props["properties"][section]["properties"]["image"]
        assert "default" not in image and image["minLength"] == 1
        assert "image" not in props["properties"][section].get("default", {}), f"{section}'s default names an image"
    wire = spec().to_wire()
    assert "image" not in wire["training"] and "image" not in wire["serving"]
