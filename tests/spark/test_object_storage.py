"""The main job on S3-compatible object storage (a real MinIO on loopback), end to end through the commands.

Data lake, model store and prediction log all live in one bucket; the
credentials reach every step the way a pod gets them (CLICKCAST_STORAGE_OPTIONS
pointing at the mounted storageOptionsSecret), and never reach the output.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pandas as pd
import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from clickcast.cli.main import app
from clickcast.features.contract import DATE, INPUT_COLUMNS
from clickcast.jobs import s3a
from clickcast.store import credentials, layout, load_version
from tests.conftest import S3
from tests.serving.conftest import Served

pytestmark = [pytest.mark.spark, pytest.mark.s3]


@pytest.fixture(scope="module")
def s3_spark(spark: SparkSession, s3: S3) -> SparkSession:
    s3a.configure(spark, s3.options)
    return spark


def _run(s3: S3, *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={credentials.ENV: str(s3.options_file)})
    assert result.exit_code == 0, result.output
    assert s3.options.secret not in result.output
    return result.output


def test_train_publish_serve_log_and_evaluate_on_s3(
    s3_spark: SparkSession, s3: S3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = s3.prefix("lake")
    data, store = f"{root}/clicks", f"{root}/store"
    _run(s3, "data", "generate", "--out", data, "--rows", "6000", "--days", "30", "--seed", "3",
         "--merchants", "120", "--categories", "30")  # fmt: skip

    # Train from s3:// and publish to s3://: the version is a manifest naming its attempt's files.
    result_file = tmp_path / "train.json"
    _run(s3, "train", "--data", data, "--store", store, "--name", "offers", "--output", str(result_file))
    trained = json.loads(result_file.read_text())
    uri = trained["uri"]
    assert uri == layout.version_uri(store, "offers", trained["version"])
    version = load_version(uri, trained["checksum"])  # every file verified, read over S3
    assert version.manifest.attempt is not None
    assert s3.fs.exists(layout.attempt_dir(uri, version.manifest.attempt).removeprefix("s3://"))
    assert trained["metrics"]["rows"] > 0

    # Serve the version from s3:// and log its predictions to s3://.
    test_rows = pd.read_parquet(data, storage_options=s3.options.fsspec())
    test_rows = test_rows[test_rows[DATE] == test_rows[DATE].max()].head(200)
    offers = [{c: str(r[c]) if c == DATE else r[c] for c in INPUT_COLUMNS} for r in test_rows.to_dict("records")]
    log_url = layout.prediction_log_url(store, "offers")
    monkeypatch.setenv(credentials.ENV, str(s3.options_file))
    served = Served(uri, tmp_path, "--prediction-log", log_url, "--flush-interval", "1s")
    try:
        served.wait_ready(120)
        answer = httpx.post(f"{served.url}/predict/batch", json={"offers": offers}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["modelVersion"] == trained["version"]
        assert served.terminate() == 0  # SIGTERM flushes the prediction log
    finally:
        served.kill()
    assert s3.options.secret not in served.output
    logged = s3.fs.glob(f"{log_url.removeprefix('s3://')}/date=*/part-*.parquet")
    assert logged, served.output

    # Evaluate the logged predictions against the real clicks, all on s3://.
    out = f"{root}/evaluation"
    _run(s3, "evaluate", "--predictions", log_url, "--actuals", data, "--out", out)
    with s3.fs.open(f"{out.removeprefix('s3://')}/metrics.json") as handle:
        report = json.load(handle)
    assert report["rows"] == len(offers)
    assert [(v["modelVersion"], v["role"]) for v in report["versions"]] == [(trained["version"], "stable")]
