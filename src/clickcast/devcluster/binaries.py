"""Find (building once if needed) the control-plane binaries the dev cluster runs.

`hack/build-control-plane.sh` owns the versions and the cache layout; it prints
the binary directory on its last stdout line and is a no-op (no Go, no
network) once the cache is warm, so Python asks it instead of repeating the
versions here. Outside a checkout, `CLICKCAST_BIN_DIR` names the directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from clickcast.devcluster.errors import DevClusterError

BIN_DIR_ENV = "CLICKCAST_BIN_DIR"
REQUIRED = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kwok", "kwokctl")
SCRIPT = Path("hack") / "build-control-plane.sh"


def build_script() -> Path | None:
    """The build script of the checkout this package runs from, if any."""
    for parent in Path(__file__).resolve().parents:
        if (parent / SCRIPT).is_file():
            return parent / SCRIPT
    return None


def missing(bin_dir: Path) -> list[str]:
    return [name for name in REQUIRED if not os.access(bin_dir / name, os.X_OK)]


def locate() -> Path:
    """The directory holding every binary in REQUIRED, building them first if needed.

    The build prints its progress on stderr (inherited, so the user sees it);
    it takes several minutes the first time.
    """
    explicit = os.environ.get(BIN_DIR_ENV)
    if explicit and not missing(Path(explicit)):
        return Path(explicit)
    script = build_script()
    if script is None:
        raise DevClusterError(
            f"control-plane binaries not found and no hack/build-control-plane.sh to build them; "
            f"set {BIN_DIR_ENV} to a directory with {', '.join(REQUIRED)}"
        )
    proc = subprocess.run(["bash", str(script)], stdout=subprocess.PIPE, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise DevClusterError(f"building the control plane failed ({script} exited {proc.returncode}; see above)")
    bin_dir = Path(lines[-1])
    if absent := missing(bin_dir):
        raise DevClusterError(f"{bin_dir} lacks {', '.join(absent)} after the build")
    return bin_dir


def kubectl() -> Path:
    """kwokctl shells out to kubectl, so it must be on PATH."""
    found = shutil.which("kubectl")
    if found is None:
        raise DevClusterError("kubectl is not on PATH (kwokctl needs it); install kubectl >= 1.32")
    return Path(found)
