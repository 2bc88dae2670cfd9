"""The operator reads an s3:// store with credentials of its own (the chart's operator.storeCredentialsSecret).

Against a real S3 server (MinIO): without them the operator's read of an evaluation report fails (every
reconcile failed and backed off, the model stuck in Validating); with CLICKCAST_STORAGE_OPTIONS pointing at
its own mounted Secret, `clickcast operator` installs them at start and the same read succeeds.
"""

from __future__ import annotations

from pathlib import Path

import fsspec.config
import pytest
import s3fs

from clickcast.analysis.evidence import EvaluationReport
from clickcast.cli.operator import _install_own_store_credentials
from clickcast.runtime import outcomes
from clickcast.store import credentials
from tests.conftest import S3

pytestmark = pytest.mark.s3


def _as_the_operator_starts(s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials installed or in the environment; the store's endpoint known (so no AWS is asked)."""
    monkeypatch.setattr(fsspec.config, "conf", {"s3": {"endpoint_url": s3.server.endpoint_url}})
    monkeypatch.delenv(credentials.ENV, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata probe on this machine
    s3fs.S3FileSystem.clear_instance_cache()


def test_the_operator_reads_the_store_only_with_its_own_mounted_credentials(
    s3: S3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{s3.prefix('store')}/models/offers/evaluations/run-1/metrics.json"
    report = EvaluationReport(rows=7, unmatched=1)
    with s3.fs.open(url, "w") as handle:  # written with the test's own client
        handle.write(report.model_dump_json())

    _as_the_operator_starts(s3, monkeypatch)
    with pytest.raises(outcomes.StoreRefused, match="NoCredentialsError"):  # was: every reconcile failed, backed off
        outcomes.read_report(url)

    mounted = tmp_path / "storage"  # a Secret volume: one file per key
    mounted.mkdir()
    for key, value in s3.server.storage_options().items():
        (mounted / key).write_text(value)
    monkeypatch.setenv(credentials.ENV, str(mounted))
    _install_own_store_credentials()
    read = outcomes.read_report(url)
    assert read is not None and (read.rows, read.unmatched) == (7, 1)
