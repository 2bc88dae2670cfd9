"""XGBoost on Spark, with hyper-parameters from the ClickModel spec.

On a cluster (standalone, Kubernetes) the fit is xgboost.spark's: one worker
per task slot in a barrier stage, histograms synchronised every round. On a
local master every "worker" would share this one machine, and that
synchronisation and the per-worker single thread cost about 3x a plain fit
(bench/README.md); there the encoded rows (already in this machine's memory)
come to the driver as Arrow and one xgboost uses every core, unless a worker
count is asked for explicitly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
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


def booster_params(algorithm: Algorithm, threads: int) -> tuple[dict[str, Any], int]:
    """xgb.train's parameters (native names) and number of rounds for the spec's hyper-parameters."""
    params = xgboost_params(algorithm)
    rounds = int(params.pop("n_estimators"))
    params |= {"eta": params.pop("learning_rate"), "seed": params.pop("random_state"), "nthread": threads}
    return params, rounds


def _single_machine(df: DataFrame) -> bool:
    return (df.sparkSession.sparkContext.master or "").startswith("local")


def train_in_driver(train: DataFrame, spec: FeatureSpec, algorithm: Algorithm, threads: int) -> Any:
    """One xgboost with `threads` threads on the rows gathered as Arrow (for local masters)."""
    import xgboost as xgb  # noqa: PLC0415

    columns = feature_columns(spec)
    table = train.select(*columns, CLICKS).toArrow()
    x = np.empty((table.num_rows, len(columns)), dtype=np.float32)
    for j, column in enumerate(columns):
        x[:, j] = table.column(column).to_numpy()
    y = table.column(CLICKS).to_numpy()
    del table
    matrix = xgb.QuantileDMatrix(
        x, y, feature_names=spec.feature_names, feature_types=spec.feature_types, enable_categorical=True
    )
    params, rounds = booster_params(algorithm, threads)
    return xgb.train(params, matrix, num_boost_round=rounds)


def train_xgboost(train: DataFrame, spec: FeatureSpec, algorithm: Algorithm, num_workers: int | None = None) -> Any:
    """Fit on encoded rows (`f_*` columns, label `clicks`); return the xgboost.Booster."""
    if num_workers is None and _single_machine(train):
        return train_in_driver(train, spec, algorithm, train.sparkSession.sparkContext.defaultParallelism)
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
