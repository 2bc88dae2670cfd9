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
    FloatArray,
    calibration,
    compute_metrics,
    mae,
    margin_floor,
    mean_poisson_deviance,
    metric_sums,
    metrics_from_sums,
    placement_margin,
    poisson_unit_deviance,
    rmse,
)
from clickcast.api.images import Images, resolve_images
from clickcast.api.spec import ClickModelSpec, DataWindow, RevenueModel
from clickcast.features.spec import CategoricalVocabulary, FeatureSpec
from clickcast.jobs.generate import GeneratorConfig, generate
from clickcast.jobs.submit import DRIVER_ENV, build_spark_submit_argv, spark_memory
from clickcast.jobs.train import fingerprinted_version_id
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
    m = compute_metrics(y, mu, price, RevenueModel(commission_rate=0.1, placement_cost=1.2))
    assert m.rows == 3
    assert m.mae == pytest.approx(mae(y, mu)) == pytest.approx(2.0 / 3)
    assert m.rmse == pytest.approx(rmse(y, mu))
    assert m.poisson_deviance == pytest.approx(mean_poisson_deviance(y, mu))
    assert m.calibration == pytest.approx(calibration(y, mu)) == pytest.approx(1.0)
    # Revenue per click 1, 2, 0.5; predicted revenue 0.5 (not bought), 3.0 and 1.5 (bought at 1.2).
    # Margin 0 + (1 * 2 - 1.2) + (4 * 0.5 - 1.2) = 1.6 over 3 offer-days, reported per 1,000.
    assert m.margin == pytest.approx(1.6 / 3 * 1000)


def test_placement_margin_buys_only_above_the_cost() -> None:
    revenue = RevenueModel(commission_rate=0.1, placement_cost=2.0)
    # Revenue per click 1: predicted 2 equals the cost (not bought), 3 buys; a missing price earns nothing.
    got = placement_margin([5, 5, 0, 5], [2.0, 3.0, 3.0, 9.0], [10.0, 10.0, 10.0, np.nan], revenue)
    assert got.tolist() == pytest.approx([0.0, 3.0, -2.0, 0.0])
    assert compute_metrics([1, 2], [1.0, 2.0]).margin == 0.0  # no price: nothing bought


def test_calibrated_prediction_earns_the_most_margin() -> None:
    """The true mean beats biased copies of it on Poisson clicks; the old definition preferred 0.7x."""
    rng = np.random.default_rng(2026)
    n = 200_000
    mu = rng.lognormal(np.log(0.8), 1.0, n)
    price = rng.lognormal(np.log(27.0), 0.8, n)
    clicks = rng.poisson(mu)
    revenue = RevenueModel()
    bought = mu * revenue.commission_rate * price > revenue.placement_cost
    assert 0.2 < bought.mean() < 0.8  # both sides of the threshold are populated, so the test has power

    def margin_of(k: float) -> float:
        value = compute_metrics(clicks, k * mu, price, revenue).margin
        assert value is not None
        return value

    calibrated = margin_of(1.0)
    # Paired differences are ~20x (0.7x) and ~14x (1.3x) their standard error at this seed and size.
    assert calibrated > margin_of(0.7)
    assert calibrated > margin_of(1.3)

    def old_margin(predicted: FloatArray, payout_share: float = 0.7) -> float:
        # The replaced row-level definition: commission on min(clicks, predicted), payout on every predicted click.
        c = revenue.commission_rate
        return float(c * (np.minimum(clicks, predicted) * price).sum() - payout_share * c * (predicted * price).sum())

    assert old_margin(0.7 * mu) > old_margin(mu)  # it paid off under-prediction: a gate on it favoured bias


@given(
    st.lists(st.integers(0, 50), min_size=1, max_size=30),
    st.floats(0.01, 0.5),
    st.floats(0.01, 20.0),
    st.floats(0.0, 3.0),
)
def test_margin_is_highest_for_the_perfect_prediction(
    clicks: list[int], commission: float, cost: float, k: float
) -> None:
    # Knowing each row's real clicks, the decision is right on every row; no scaled copy can do better.
    revenue = RevenueModel(commission_rate=commission, placement_cost=cost)
    price = np.full(len(clicks), 10.0)
    perfect = compute_metrics(clicks, clicks, price, revenue).margin
    scaled = compute_metrics(clicks, np.asarray(clicks, dtype=float) * k, price, revenue).margin
    assert perfect is not None and scaled is not None
    assert scaled <= perfect + 1e-9


@pytest.mark.parametrize(
    ("stable", "max_decrease", "floor"),
    [(100.0, 0.02, 98.0), (-100.0, 0.02, -102.0), (0.0, 0.5, 0.0), (40.0, 0.0, 40.0), (-10.0, 1.5, -25.0)],
)
def test_margin_floor_lies_below_any_stable_margin(stable: float, max_decrease: float, floor: float) -> None:
    assert margin_floor(stable, max_decrease) == pytest.approx(floor)


@given(st.floats(-1e6, 1e6), st.floats(0.0, 2.0))
def test_margin_floor_never_demands_more_than_stable(stable: float, max_decrease: float) -> None:
    assert margin_floor(stable, max_decrease) <= stable


def test_margin_floor_rejects_a_negative_decrease() -> None:
    with pytest.raises(ValueError, match="max_decrease"):
        margin_floor(10.0, -0.1)


def test_sums_are_additive() -> None:
    rng = np.random.default_rng(1)
    y, mu, price = rng.poisson(2, 100), rng.uniform(0.5, 3, 100), rng.uniform(5, 40, 100)
    whole = metrics_from_sums(metric_sums(y, mu, price))
    parts = metrics_from_sums(metric_sums(y[:40], mu[:40], price[:40]) + metric_sums(y[40:], mu[40:], price[40:]))
    assert whole.poisson_deviance == pytest.approx(parts.poisson_deviance)
    assert whole.margin is not None and whole.margin != 0.0
    assert whole.margin == pytest.approx(parts.margin)
    assert metrics_from_sums(metric_sums([], [])).rows == 0


def test_holdout_counts_back_from_the_newest_day() -> None:
    split = holdout(dt.date(2026, 1, 1), dt.date(2026, 3, 31), DataWindow(train_days=30, test_days=7))
    assert (split.test_start, split.test_end) == (dt.date(2026, 3, 25), dt.date(2026, 3, 31))
    assert (split.train_start, split.train_end) == (dt.date(2026, 2, 23), dt.date(2026, 3, 24))
    assert holdout(dt.date(2026, 3, 1), dt.date(2026, 3, 31), DataWindow()).train_start == dt.date(2026, 3, 1)
    with pytest.raises(WindowError, match="not enough"):
        holdout(dt.date(2026, 3, 28), dt.date(2026, 3, 31), DataWindow(test_days=7))


def test_version_ids_sort_by_time_and_differ_by_input() -> None:
    a = fingerprinted_version_id(dt.datetime(2026, 11, 25, 14, 30), "h1", {"x": 1})
    assert a.startswith("v20261125-143000-") and len(a) == len("v20261125-143000-") + 8
    assert a != fingerprinted_version_id(dt.datetime(2026, 11, 25, 14, 30), "h2", {"x": 1})
    assert a < fingerprinted_version_id(dt.datetime(2026, 11, 26, 0, 0), "h1", {"x": 1})


def test_spark_submit_argv() -> None:
    spec = ClickModelSpec.model_validate(
        {
            "data": {"url": "s3://b/clicks"},
            "store": {"url": "s3://b/models"},
            "training": {
                "master": "k8s://https://kubernetes.default.svc",
                "executors": {"instances": 4, "cpu": "500m", "memory": "3Gi"},
                "serviceAccountName": "trainer",
                "sparkConf": {"spark.executor.memory": "5g"},
            },
        }
    )
    spec = resolve_images(spec, Images.of("registry.example.com/team", "1.2"))
    argv = build_spark_submit_argv(spec, "offers", "/etc/clickcast/model.yaml", "/dev/termination-log")
    assert argv[:5] == ["spark-submit", "--master", "k8s://https://kubernetes.default.svc", "--deploy-mode", "client"]
    confs = {argv[i + 1] for i, a in enumerate(argv) if a == "--conf"}
    assert {"spark.executor.instances=4", "spark.executor.cores=1", "spark.executor.memory=5g"} <= confs
    assert "spark.kubernetes.container.image=registry.example.com/team/jobs:1.2" in confs
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
    np.testing.assert_allclose(model.predict_matrix(x), np.exp([0.5 + 0.2 + 0.1, 0.5, 0.5 - 0.1]), rtol=1e-6)
