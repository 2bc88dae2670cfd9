"""The three clickcast images, as this checkout runs them: the image table of the workload runner.

There is no container runtime here, so an image is only a name: a container that
gives no `command` runs the entrypoint listed for its image (its repository,
any tag), and paths baked into the images point at this checkout instead.

- `ghcr.io/clickcast/operator:<tag>`: `<venv>/bin/clickcast operator` (its ENTRYPOINT);
- `ghcr.io/clickcast/jobs:<tag>`: `bash jobs/entrypoint.sh` (its ENTRYPOINT, without tini), and the
  image's `/opt/clickcast/jobs` is this checkout's `jobs/`;
- `ghcr.io/clickcast/serving:<tag>`: `<venv>/bin/bentoml serve clickcast.serving.service:ClickcastService`
  (its CMD, what `clickcast serve` execs; BENTOML_HOST/BENTOML_PORT from the pod's env);
- `/opt/venv` (every image's virtualenv) is this checkout's venv.

Every process gets the venv's `bin/` first on PATH (the images put `/opt/venv/bin`
there), so `clickcast`, `spark-submit` and `bentoml` are the checkout's, and
PySpark's Python is the venv's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "ghcr.io/clickcast"
"""The chart's default `images.registry` (clickcast.api.images.DEFAULT_REGISTRY; `make cluster-demo` installs
the chart with it): images of another registry run only with an explicit `command`."""


@dataclass(frozen=True)
class ImageTable:
    entrypoints: dict[str, list[str]]  # image repository -> the command of a container that gives none
    paths: dict[str, Path]  # a path inside the images -> its local directory
    env: dict[str, str]  # what the images set in their environment, locally


def checkout(root: Path, venv: Path, environ: Mapping[str, str]) -> ImageTable:
    """The image table of the checkout at `root` with its virtualenv `venv`."""
    bin_dir = venv / "bin"
    return ImageTable(
        entrypoints={
            f"{REGISTRY}/operator": [str(bin_dir / "clickcast"), "operator"],
            f"{REGISTRY}/jobs": ["bash", str(root / "jobs" / "entrypoint.sh")],
            f"{REGISTRY}/serving": [str(bin_dir / "bentoml"), "serve", "clickcast.serving.service:ClickcastService"],
        },
        paths={"/opt/clickcast/jobs": root / "jobs", "/opt/venv": venv},
        env={
            "PATH": f"{bin_dir}:{environ.get('PATH', '/usr/bin:/bin')}",
            "PYSPARK_PYTHON": str(bin_dir / "python"),
            "PYSPARK_DRIVER_PYTHON": str(bin_dir / "python"),
            "PYTHONUNBUFFERED": "1",
            "BENTOML_DO_NOT_TRACK": "True",
        },
    )
