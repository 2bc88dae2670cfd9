"""Which images a ClickModel's pods run: its own `spec.training.image` / `spec.serving.image`, else the operator's.

The API has no image defaults, so a ClickModel names none unless it wants another image: one setting of the
operator (the chart's `images.registry`) then moves every model to another registry. The operator resolves a
spec once, before it builds anything (`resolve_images`); the builders read the resolved images through
`training_image` / `serving_image`, which refuse an unresolved spec rather than write `image: null` into a pod.
Purely computational: the defaults come in as an argument, never from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickcast import __version__
from clickcast.api.spec import ClickModelSpec, Serving, Training

DEFAULT_REGISTRY = "ghcr.io/clickcast"
"""Where the released images are (the chart's `images.registry` default, `make images`' `REGISTRY`)."""


class UnresolvedImage(ValueError):  # noqa: N818  (the name says what happened)
    """A builder was given a spec whose images were not resolved (`resolve_images`)."""


@dataclass(frozen=True)
class Images:
    """The images of a ClickModel's pods when its spec names none: the operator's defaults."""

    jobs: str
    """Spark and the clickcast jobs: training, scoring and evaluation runs and their executors."""
    serving: str
    """The BentoML prediction service."""

    def __post_init__(self) -> None:
        if not self.jobs or not self.serving:
            raise ValueError(f"an image reference is empty: {self}")

    @classmethod
    def of(cls, registry: str = DEFAULT_REGISTRY, tag: str = __version__) -> Images:
        """`<registry>/jobs:<tag>` and `<registry>/serving:<tag>`, as `make images` tags them."""
        registry = registry.rstrip("/")
        return cls(jobs=f"{registry}/jobs:{tag}", serving=f"{registry}/serving:{tag}")


def resolve_images(spec: ClickModelSpec, defaults: Images) -> ClickModelSpec:
    """`spec` with both images set: the spec's own where it names one, else `defaults`."""
    training = spec.training.model_copy(update={"image": spec.training.image or defaults.jobs})
    serving = spec.serving.model_copy(update={"image": spec.serving.image or defaults.serving})
    return spec.model_copy(update={"training": training, "serving": serving})


def training_image(training: Training) -> str:
    """The jobs image of a resolved spec."""
    if training.image is None:
        raise UnresolvedImage("spec.training.image is not resolved: pass the spec through resolve_images first")
    return training.image


def serving_image(serving: Serving) -> str:
    """The serving image of a resolved spec."""
    if serving.image is None:
        raise UnresolvedImage("spec.serving.image is not resolved: pass the spec through resolve_images first")
    return serving.image
