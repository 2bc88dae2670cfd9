"""Pure parts of the jobs: metrics, holdout window, version ids, spark-submit argv, generator, GLM design."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clickcast.analysis.metrics import (
    calibration,
    compute_metrics,
    mae,
    mean_poisson_deviance,
    metric_sums,
    metrics_from_sums,
    poisson_unit_deviance,
    rmse,
)
from clickcast.api.spec import ClickModelSpec, DataWindow, RevenueModel
from clickcast.features.spec import CategoricalVocabulary, FeatureSpec
from clickcast.jobs.generate import GeneratorConfig, generate
from clickcast.jobs.submit import DRIVER_ENV, build_spark_submit_argv, spark_memory
from clickcast.jobs.train import version_id
from clickcast.jobs.window import WindowError, holdout
from clickcast.model.glm import GlmModel, TermKind, glm_terms

pytestmark = pytest.mark.unit


def test_poisson_deviance_handles_zero_clicks_and_zero_predictions() -> None:
    dev = poisson_unit_deviance([0, 2, 3], [0.5, 2.0, 0.0])
    assert dev[0] == pytest.approx(1.0)  # y = 0: 2 * mu
    assert dev[1] == pytest.approx(0.0)
    assert np.isfinite(dev[2]) and dev[2] > 100  # floored, not infinite


def test_metrics_and_margin() -> None:
    y, mu, price = [0, 1, 4], [0.5, 1.5, 3.0], [10.0, 20.0, 5.0]
    m = compute_metrics(y, mu, price, RevenueModel(commission_rate=0.1, payout_share=0.5))
    assert m.rows == 3
    assert m.mae == pytest.approx(mae(y, mu)) == pytest.approx(2.0 / 3)
    assert m.rmse == pytest.approx(rmse(y, mu))
    assert m.poisson_deviance == pytest.approx(mean_poisson_deviance(y, mu))
    assert m.calibration == pytest.approx(calibration(y, mu)) == pytest.approx(1.0)
    # earned 0.1 * (min(0, .5) * 10 + min(1, 1.5) * 20 + min(4, 3) * 5) = 3.5; paid 0.5 * 0.1 * (5 + 30 + 15) = 2.5
    assert m.margin == pytest.approx(1.0)


@given(
    st.lists(st.integers(0, 50), min_size=1, max_size=30),
    st.floats(0.01, 0.5),
    st.floats(0.0, 0.95),
    st.floats(0.0, 3.0),
)
def test_margin_is_highest_for_the_perfect_prediction(
    clicks: list[int], commission: float, payout: float, k: float
) -> None:
    revenue = RevenueModel(commission_rate=commission, payout_share=payout)
    price = np.full(len(clicks), 10.0)
    perfect = compute_metrics(clicks, clicks, price, revenue).margin
    scaled = compute_metrics(clicks, np.asarray(clicks, dtype=float) * k, price, revenue).margin
    assert perfect is not None and scaled is not None
    assert scaled <= perfect + 1e-9


def test_sums_are_additive() -> None:
    rng = np.random.default_rng(1)
    y, mu = rng.poisson(2, 100), rng.uniform(0.5, 3, 100)
    whole = metrics_from_sums(metric_sums(y, mu))
    parts = metrics_from_sums(metric_sums(y[:40], mu[:40]) + metric_sums(y[40:], mu[40:]))
    assert whole.poisson_deviance == pytest.approx(parts.poisson_deviance)
    assert metrics_from_sums(metric_sums([], [])).rows == 0


def test_holdout_counts_back_from_the_newest_day() -> None:
    split = holdout(dt.date(2026, 1, 1), dt.date(2026, 3, 31), DataWindow(train_days=30, test_days=7))
    assert (split.test_start, split.test_end) == (dt.date(2026, 3, 25), dt.date(2026, 3, 31))
    assert (split.train_start, split.train_end) == (dt.date(2026, 2, 23), dt.date(2026, 3, 24))
    assert holdout(dt.date(2026, 3, 1), dt.date(2026, 3, 31), DataWindow()).train_start == dt.date(2026, 3, 1)
    with pytest.raises(WindowError, match="not enough"):
        holdout(dt.date(2026, 3, 28), dt.date(2026, 3, 31), DataWindow(test_days=7))


def test_version_ids_sort_by_time_and_differ_by_input() -> None:
    a = version_id(dt.datetime(2026, 11, 25, 14, 30), "h1", {"x": 1})
    assert a.startswith("v20261125-143000-") and len(a) == len("v20261125-143000-") + 8
    assert a != version_id(dt.datetime(2026, 11, 25, 14, 30), "h2", {"x": 1})
    assert a < version_id(dt.datetime(2026, 11, 26, 0, 0), "h1", {"x": 1})


def test_spark_submit_argv() -> None:
    spec = ClickModelSpec.model_validate(
        {
            "data": {"url": "s3://b/clicks"},
            "training": {
                "master": "k8s://https://kubernetes.default.svc",
                "executors": {"instances": 4, "cpu": "500m", "memory": "3Gi"},
                "serviceAccountName": "trainer",
                "sparkConf": {"spark.executor.memory": "5g"},
            },
        }
    )
    argv = build_spark_submit_argv(spec, "offers", "/etc/clickcast/model.yaml", "/dev/termination-log")
    assert argv[:5] == ["spark-submit", "--master", "k8s://https://kubernetes.default.svc", "--deploy-mode", "client"]
    confs = {argv[i + 1] for i, a in enumerate(argv) if a == "--conf"}
    assert {"spark.executor.instances=4", "spark.executor.cores=1", "spark.executor.memory=5g"} <= confs
    assert "spark.kubernetes.container.image=ghcr.io/clickcast/jobs:0.1.0" in confs
    assert "spark.kubernetes.authenticate.driver.serviceAccountName=trainer" in confs
    # Client mode in the training pod: reachable at its IP, owner of its executors, authenticated as its SA.
    assert {
        "spark.driver.host=$(POD_IP)", "spark.driver.bindAddress=$(POD_IP)",
        "spark.kubernetes.driver.pod.name=$(POD_NAME)", "spark.kubernetes.namespace=$(POD_NAMESPACE)",
        "spark.kubernetes.authenticate.oauthTokenFile=/var/run/secrets/kubernetes.io/serviceaccount/token",
        "spark.kubernetes.executor.request.cores=500m", "spark.kubernetes.executor.label.clickcast.io/model=offers",
    } <= confs  # fmt: skip
    assert {e["name"] for e in DRIVER_ENV} == {"POD_IP", "POD_NAME", "POD_NAMESPACE"}
    local = build_spark_submit_argv(
        spec.model_copy(update={"training": spec.training.model_copy(update={"master": "local[4]"})}),
        "offers",
        "m",
        "o",
    )
    assert not any("POD_IP" in a for a in local)
    assert argv[-7:] == ["/opt/clickcast/jobs/train.py", "--model-file", "/etc/clickcast/model.yaml", "--name",
                         "offers", "--output", "/dev/termination-log"]  # fmt: skip
    assert spark_memory("512Mi") == "512m" and spark_memory("2Gi") == "2g"


def test_generator_is_deterministic_and_shaped(tmp_path: Path) -> None:
    cfg = GeneratorConfig(rows=5000, days=10, seed=3, merchants=200, categories=30, rows_per_file=2000)
    assert generate(cfg, f"file://{tmp_path}/a") == 5000
    generate(cfg, f"file://{tmp_path}/b")
    a, b = pq.read_table(tmp_path / "a").to_pandas(), pq.read_table(tmp_path / "b").to_pandas()
    assert a.equals(b)
    assert len(list((tmp_path / "a").glob("*.parquet"))) == 3
    assert a["date"].nunique() == 10 and (a["clicks"] >= 0).all()
    assert not a.duplicated(["date", "categoryId", "merchantId", "category", "device"]).any()
    assert (a["clicks"] == 0).mean() > 0.3  # many zeros
    assert a["clicks"].var() > 1.5 * a["clicks"].mean()  # over-dispersed
    assert set(a["device"]) == {"desktop", "mobile", "tablet"}


def test_glm_design_and_prediction() -> None:
    spec = FeatureSpec(
        categorical=[CategoricalVocabulary(column="device", values=["mobile", "desktop"])], numeric=["price"]
    )
    terms = glm_terms(spec, {})
    assert [t.kind for t in terms] == [TermKind.LEVEL, TermKind.LEVEL, TermKind.LINEAR, TermKind.LOG1P]
    model = GlmModel(
        feature_names=spec.feature_names,
        intercept=0.5,
        terms=[t.model_copy(update={"coef": c}) for t, c in zip(terms, [0.2, -0.1, 0.01, 0.0], strict=True)],
    )
    x = np.asarray([[1, 10.0], [0, 0.0], [2, np.nan]], dtype=np.float32)
    np.testing.assert_allclose(model.inplace_predict(x), np.exp([0.5 + 0.2 + 0.1, 0.5, 0.5 - 0.1]), rtol=1e-6)
