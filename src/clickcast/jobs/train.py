"""The training job: read and validate, hold out the last days, fit features, XGBoost and the GLM baseline,
measure both on the test window, publish an immutable version and report it."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from clickcast import __version__
from clickcast.analysis.evidence import ReferenceEvidence, TrainingEvidence
from clickcast.api.duration import parse_duration
from clickcast.api.spec import AlgorithmName, ClickModelSpec
from clickcast.api.status import DataWindowStatus, Metrics, ModelVersionStatus, SegmentMetrics
from clickcast.features.contract import CATEGORY, CLICKS, DATE, DEVICE, INPUT_COLUMNS, PRICE
from clickcast.jobs.baseline import train_glm
from clickcast.jobs.data import BadRows, fingerprint, read_dataset, rows_between
from clickcast.jobs.featurize import apply_feature_spec, feature_columns, fit_feature_spec
from clickcast.jobs.predict import ModelBlob, predict, predict_rows
from clickcast.jobs.spark_metrics import measured
from clickcast.jobs.window import check_window_rows, holdout
from clickcast.jobs.xgb import train_xgboost, xgboost_params
from clickcast.model.artifact import (
    DATA_FILE,
    FEATURES_FILE,
    GLM_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PARAMS_FILE,
    load_predictor,
)
from clickcast.store.artifacts import GARBAGE_AGE, ModelStore, PublishedVersion

Progress = Callable[[str], None]
PREDICTED, BASELINE, REFERENCE = "predicted", "baseline_predicted", "reference_predicted"


@dataclass(frozen=True)
class TrainResult:
    status: ModelVersionStatus
    baseline_segments: list[SegmentMetrics]
    bad_rows: BadRows
    read_rows: int
    algorithm: str

    def to_json(self) -> dict[str, Any]:
        """The output the operator reads (status fields in camelCase, plus the bad-row report)."""
        return {
            **self.status.to_wire(),
            "baselineSegments": [s.to_wire() for s in self.baseline_segments],
            "badRows": self.bad_rows.to_json(),
            "readRows": self.read_rows,
            "algorithm": self.algorithm,
        }


def fingerprinted_version_id(now: dt.datetime, content_hash: str, params: dict[str, Any]) -> str:
    """Sortable by time, and different for different data or parameters: v20261125-143000-1a2b3c4d."""
    digest = hashlib.sha256((content_hash + json.dumps(params, sort_keys=True)).encode()).hexdigest()[:8]
    return f"v{now:%Y%m%d-%H%M%S}-{digest}"


def _segment_columns(spec: ClickModelSpec) -> list[str]:
    return list(dict.fromkeys([DEVICE, CATEGORY, *spec.validation.segments.columns]))


def _between(df: DataFrame, start: dt.date, end: dt.date) -> DataFrame:
    return df.where((F.col(DATE) >= F.lit(start)) & (F.col(DATE) <= F.lit(end)))


@dataclass(frozen=True)
class Reference:
    """The version serving now: re-measured on the new test window so relative gates compare like with like."""

    uri: str
    manifest_sha256: str | None = None


def _measure_reference(
    test_rows: DataFrame, reference: Reference, spec: ClickModelSpec, segment_columns: list[str]
) -> ReferenceEvidence:
    predictor = load_predictor(reference.uri, reference.manifest_sha256)  # verified, or the training fails
    blob = ModelBlob(predictor.model_file, predictor.version.files[predictor.model_file])
    scored = predict_rows(test_rows, blob, predictor.features, REFERENCE).cache()
    revenue, top = spec.validation.revenue, spec.validation.segments.top_values
    by_column = measured(scored, segment_columns, top, CLICKS, [REFERENCE], price=PRICE, revenue=revenue)
    metrics, segments = by_column[REFERENCE]
    evidence = ReferenceEvidence(
        version=predictor.version_id,
        manifest_sha256=predictor.version.manifest_sha256,
        metrics=metrics,
        segments=segments,
    )
    scored.unpersist()
    return evidence


def _publish(spec: ClickModelSpec, name: str, version: str, files: dict[str, bytes],
             say: Callable[[str], None]) -> PublishedVersion:  # fmt: skip
    store = ModelStore(spec.store.url)
    published = store.publish(name, version, files)
    with contextlib.suppress(OSError):  # best effort: what dead publishers left, long after any run could end
        age = max(GARBAGE_AGE, 2 * parse_duration(spec.training.timeout))
        for prefix in store.collect_garbage(name, older_than=age):
            say(f"removed {prefix}: staging of a publish that never committed")
    return published


def train(
    spark: SparkSession,
    spec: ClickModelSpec,
    name: str,
    *,
    num_workers: int | None = None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
    version: str | None = None,
    reference: Reference | None = None,
) -> TrainResult:
    """Train, measure and publish `name`'s next version (`version`, or one derived from the time and data).

    With a `reference`, the stable version is measured on the same test window (TrainingEvidence.reference).
    """
    say = progress or (lambda _msg: None)
    say(f"reading {spec.data.url}")
    trained_at = now or dt.datetime.now(dt.UTC)
    data = read_dataset(
        spark, spec.data.url, spec.data.format, spec.data.date_column, spec.data.target_column,
        run_date=trained_at.date(),
    )  # fmt: skip
    rows = data.rows.cache()
    fp = fingerprint(rows, [*INPUT_COLUMNS, CLICKS])
    split = holdout(fp.first_day, fp.last_day, spec.data.window)
    check_window_rows(
        split, *rows_between(rows, [(split.train_start, split.train_end), (split.test_start, split.test_end)])
    )
    say(f"{fp.rows} valid rows ({data.bad.total} rejected); train {split.train_start}..{split.train_end}, "
        f"test {split.test_start}..{split.test_end}")  # fmt: skip

    say("fitting the feature spec")
    train_rows = _between(rows, split.train_start, split.train_end)
    features = fit_feature_spec(train_rows, spec.features)
    train_enc = apply_feature_spec(train_rows, features).cache()
    test_enc = apply_feature_spec(_between(rows, split.test_start, split.test_end), features)
    cols = feature_columns(features)

    say("training the Poisson GLM baseline")
    glm = train_glm(train_enc, features, spec.algorithm.glm)
    glm_blob = ModelBlob(GLM_FILE, glm.model_dump_json().encode())
    if spec.algorithm.name is AlgorithmName.XGBOOST:
        say("training xgboost")
        booster = train_xgboost(train_enc, features, spec.algorithm, num_workers)
        model_blob = ModelBlob(MODEL_FILE, bytes(booster.save_raw("json")))
    else:
        model_blob = glm_blob
    train_enc.unpersist()

    say("measuring on the test window")
    scored = predict(predict(test_enc, model_blob, cols, PREDICTED), glm_blob, cols, BASELINE).cache()
    revenue = spec.validation.revenue
    seg_cols, top = _segment_columns(spec), spec.validation.segments.top_values
    both = measured(scored, seg_cols, top, CLICKS, [PREDICTED, BASELINE], price=PRICE, revenue=revenue)
    (metrics, segments), (baseline, baseline_segments) = both[PREDICTED], both[BASELINE]
    scored.unpersist()
    ref_evidence = None
    if reference is not None:
        say(f"measuring the stable version {reference.uri} on the same test window")
        ref_evidence = _measure_reference(_between(rows, split.test_start, split.test_end), reference, spec, seg_cols)
    rows.unpersist()

    window = DataWindowStatus(
        train_start=split.train_start,
        train_end=split.train_end,
        test_start=split.test_start,
        test_end=split.test_end,
        rows=fp.rows,
        fingerprint=fp.content_hash,
    )
    params = {
        "algorithm": spec.algorithm.to_wire(),
        "features": spec.features.to_wire(),
        "xgboost": xgboost_params(spec.algorithm) if model_blob.name == MODEL_FILE else None,
        "numWorkers": num_workers,
        "codeVersion": __version__,
        "spec": spec.to_wire(),
    }
    version = version or fingerprinted_version_id(trained_at, fp.content_hash, params)
    evidence = TrainingEvidence(
        model=metrics,
        baseline=baseline,
        segments=segments,
        baseline_segments=baseline_segments,
        window=window,
        algorithm=str(spec.algorithm.name),
        reference=ref_evidence,
    )
    data_doc = {
        "rows": fp.rows,
        "readRows": data.read_rows,
        "firstDay": fp.first_day.isoformat(),
        "lastDay": fp.last_day.isoformat(),
        "contentHash": fp.content_hash,
        "url": spec.data.url,
        "badRows": data.bad.to_json(),
    }
    say(f"publishing {version} to {spec.store.url}")
    files = {
        model_blob.name: model_blob.data,
        FEATURES_FILE: features.model_dump_json(indent=1).encode(),
        METRICS_FILE: evidence.model_dump_json(by_alias=True, exclude_none=True, indent=1).encode(),
        PARAMS_FILE: json.dumps(params, indent=1, default=str).encode(),
        DATA_FILE: json.dumps(data_doc, indent=1, default=str).encode(),
    }
    published = _publish(spec, name, version, files, say)
    status = ModelVersionStatus(
        version=version,
        uri=published.uri,
        manifest_sha256=published.manifest_sha256,
        trained_at=trained_at,
        data=window,
        metrics=metrics,
        baseline_metrics=baseline,
        segments=segments,
    )
    return TrainResult(status, baseline_segments, data.bad, data.read_rows, str(spec.algorithm.name))


def metrics_table(result: TrainResult) -> list[tuple[str, str, str]]:
    """Rows of (metric, model, baseline) for humans."""
    model, base = result.status.metrics or Metrics(), result.status.baseline_metrics or Metrics()
    out = []
    for field in ("rows", "mae", "rmse", "poisson_deviance", "calibration", "margin"):
        a, b = getattr(model, field), getattr(base, field)
        out.append((field, _fmt(a), _fmt(b)))
    return out


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:d}" if isinstance(value, int) else f"{value:.4f}"
