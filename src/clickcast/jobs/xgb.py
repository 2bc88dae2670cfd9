"""XGBoost through xgboost.spark, with hyper-parameters from the ClickModel spec."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame

from clickcast.api.spec import Algorithm, Objective
from clickcast.features.contract import CLICKS
from clickcast.features.spec import FeatureSpec
from clickcast.jobs.featurize import feature_columns


def xgboost_params(algorithm: Algorithm) -> dict[str, Any]:
    """The booster parameters the spec asks for (xgboost's own names)."""
    p = algorithm.xgboost
    params: dict[str, Any] = {
        "objective": "count:poisson" if algorithm.objective is Objective.POISSON else "reg:tweedie",
        "n_estimators": p.num_rounds,
        "max_depth": p.max_depth,
        "learning_rate": p.learning_rate,
        "subsample": p.subsample,
        "colsample_bytree": p.colsample_bytree,
        "min_child_weight": p.min_child_weight,
        "reg_lambda": p.reg_lambda,
        "max_delta_step": p.max_delta_step,
        "random_state": algorithm.seed,
        "tree_method": "hist",
    }
    if algorithm.objective is Objective.TWEEDIE:
        params["tweedie_variance_power"] = p.tweedie_variance_power
    return params


def default_workers(df: DataFrame) -> int:
    """One xgboost worker per task slot (barrier mode needs them all at once)."""
    sc = df.sparkSession.sparkContext
    cpus = int(sc.getConf().get("spark.task.cpus", "1"))
    return max(1, sc.defaultParallelism // cpus)


def train_xgboost(train: DataFrame, spec: FeatureSpec, algorithm: Algorithm, num_workers: int | None = None) -> Any:
    """Fit on encoded rows (`f_*` columns, label `clicks`); return the xgboost.Booster."""
    from xgboost.spark import SparkXGBRegressor  # noqa: PLC0415 - imports scikit-learn, slow

    workers = num_workers or default_workers(train)
    estimator = SparkXGBRegressor(
        features_col=feature_columns(spec),
        label_col=CLICKS,
        feature_names=spec.feature_names,
        feature_types=spec.feature_types,
        num_workers=workers,
        verbose=False,  # no per-round evaluation log: it floods the job's output
        **xgboost_params(algorithm),
    )
    return estimator.fit(train).get_booster()
