"""Quality metrics of click predictions: one definition for training, evaluation, canary and monitoring.

Every metric is derived from a handful of additive sums (`MetricSums`), so the
same formulas serve numpy arrays in memory and Spark aggregates over billions
of rows: Spark computes the sums (with `poisson_unit_deviance` applied per row,
and the Column twin of `placement_margin` beside its sums), `metrics_from_sums`
turns them into a `Metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from clickcast.api.spec import RevenueModel
from clickcast.api.status import Metrics

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

# Predictions are floored here before taking logs: a zero prediction for a row with clicks is infinitely wrong
# under Poisson deviance, which would make one row dominate every comparison.
MIN_PREDICTION = 1e-9

# Margin is reported per this many offer-days, so windows and segments of different sizes compare.
MARGIN_PER_ROWS = 1000


def _f64(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def poisson_unit_deviance(actual: ArrayLike, predicted: ArrayLike) -> FloatArray:
    """Per-row Poisson deviance 2 * (y log(y/mu) - (y - mu)), with the y = 0 limit 2 * mu."""
    y = _f64(actual)
    mu = np.maximum(_f64(predicted), MIN_PREDICTION)
    safe_y = np.where(y > 0, y, 1.0)
    y_log = np.where(y > 0, y * np.log(safe_y / mu), 0.0)
    return 2.0 * (y_log - (y - mu))


def placement_margin(actual: ArrayLike, predicted: ArrayLike, price: ArrayLike, revenue: RevenueModel) -> FloatArray:
    """Per-row margin of the placement decision taken from the prediction (currency units).

    A placement is bought when predicted clicks x revenue per click (commission x price)
    exceed its cost; a bought placement earns the real clicks x revenue per click and
    pays the cost, an unbought one earns and pays nothing. For Poisson clicks with mean
    mu the expected value of buying is mu x revenue per click - cost, so the best
    decision, and the highest expected margin, comes from predicting mu itself: both
    under- and over-prediction move offer-days to the wrong side of the threshold.
    `spark_metrics.placement_margin_column` is the same definition as a Spark Column.
    """
    y, mu = _f64(actual), _f64(predicted)
    per_click = revenue.commission_rate * np.nan_to_num(_f64(price))
    bought = mu * per_click > revenue.placement_cost
    out: FloatArray = np.where(bought, y * per_click - revenue.placement_cost, 0.0)
    return out


def margin_floor(stable_margin: float, max_decrease: float) -> float:
    """The lowest candidate margin a relative gate accepts: stable - max_decrease x |stable|.

    Scaling by |stable| keeps the limit below the stable margin when that margin is zero
    or negative (stable x (1 - max_decrease) would demand a better margin than stable's).
    """
    if max_decrease < 0:
        raise ValueError(f"max_decrease must not be negative, got {max_decrease}")
    return stable_margin - max_decrease * abs(stable_margin)


@dataclass(frozen=True)
class MetricSums:
    """Additive statistics of a set of rows; metrics of a union are the metrics of the summed sums."""

    rows: int = 0
    abs_error: float = 0.0
    squared_error: float = 0.0
    deviance: float = 0.0
    predicted: float = 0.0
    actual: float = 0.0
    margin: float = 0.0
    """sum(placement_margin) under the revenue model the sums were computed with (currency units)."""

    def __add__(self, other: MetricSums) -> MetricSums:
        return MetricSums(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def metric_sums(
    actual: ArrayLike, predicted: ArrayLike, price: ArrayLike | None = None, revenue: RevenueModel | None = None
) -> MetricSums:
    """The sums of rows given as arrays (price None: no revenue per click, so nothing is bought)."""
    y = _f64(actual)
    mu = _f64(predicted)
    p = np.zeros_like(y) if price is None else _f64(price)
    err = mu - y
    return MetricSums(
        rows=int(y.size),
        abs_error=float(np.abs(err).sum()),
        squared_error=float((err * err).sum()),
        deviance=float(poisson_unit_deviance(y, mu).sum()),
        predicted=float(mu.sum()),
        actual=float(y.sum()),
        margin=float(placement_margin(y, mu, p, revenue or RevenueModel()).sum()),
    )


def metrics_from_sums(sums: MetricSums) -> Metrics:
    """Metrics of the rows behind `sums`; empty sets give rows=0 and no values."""
    if sums.rows == 0:
        return Metrics(rows=0)
    n = float(sums.rows)
    return Metrics(
        rows=sums.rows,
        mae=sums.abs_error / n,
        rmse=float(np.sqrt(sums.squared_error / n)),
        poisson_deviance=sums.deviance / n,
        calibration=sums.predicted / sums.actual if sums.actual > 0 else None,
        margin=sums.margin * MARGIN_PER_ROWS / n,
    )


def compute_metrics(
    actual: ArrayLike, predicted: ArrayLike, price: ArrayLike | None = None, revenue: RevenueModel | None = None
) -> Metrics:
    """MAE, RMSE, mean Poisson deviance, calibration and margin of predictions against real clicks."""
    return metrics_from_sums(metric_sums(actual, predicted, price, revenue))


def mae(actual: ArrayLike, predicted: ArrayLike) -> float:
    return float(np.mean(np.abs(_f64(predicted) - _f64(actual))))


def rmse(actual: ArrayLike, predicted: ArrayLike) -> float:
    return float(np.sqrt(np.mean((_f64(predicted) - _f64(actual)) ** 2)))


def mean_poisson_deviance(actual: ArrayLike, predicted: ArrayLike) -> float:
    return float(np.mean(poisson_unit_deviance(actual, predicted)))


def calibration(actual: ArrayLike, predicted: ArrayLike) -> float | None:
    total = float(_f64(actual).sum())
    return float(_f64(predicted).sum()) / total if total > 0 else None
