"""Each image's entry points import with only what that image installs.

The jobs image has the `jobs` extra alone: its entry files must run with kubernetes, kopf, BentoML and the
dev cluster missing. Blocking a module in sys.modules (None) makes its import fail as an absent package does.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.manifests import ROOT

pytestmark = pytest.mark.unit

NOT_IN_JOBS_IMAGE = ["kubernetes", "kopf", "bentoml", "clickcast.devcluster"]
NOT_IN_SERVING_IMAGE = ["kubernetes", "kopf", "pyspark", "clickcast.devcluster"]


def run_blocked(blocked: list[str], code: str, cwd: str = str(ROOT)) -> subprocess.CompletedProcess[str]:
    prelude = f"import sys\nfor name in {blocked!r}:\n    sys.modules[name] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("job", ["train", "score", "evaluate"])
def test_jobs_entry_file_shows_help_without_kubernetes(job: str) -> None:
    code = f"import runpy\nsys.argv = ['jobs/{job}.py', '--help']\nrunpy.run_path('jobs/{job}.py', run_name='__main__')"
    done = run_blocked(NOT_IN_JOBS_IMAGE, code)
    assert done.returncode == 0, done.stderr
    assert f"Usage: {job}.py" in done.stdout and "--master" in done.stdout


def test_jobs_cli_imports_without_kubernetes_or_the_dev_cluster() -> None:
    done = run_blocked(NOT_IN_JOBS_IMAGE, "import clickcast.cli.jobs\nclickcast.cli.jobs.run_job('score', ['--help'])")
    assert done.returncode == 0, done.stderr
    assert "--sha256" in done.stdout


def test_serving_module_imports_without_kubernetes_or_spark() -> None:
    done = run_blocked(
        NOT_IN_SERVING_IMAGE, "import service\nprint(service.ClickcastService)", cwd=str(ROOT / "serving")
    )
    assert done.returncode == 0, done.stderr
