"""Quality metrics of click predictions: one definition for training, evaluation, canary and monitoring.

Every metric is derived from a handful of additive sums (`MetricSums`), so the
same formulas serve numpy arrays in memory and Spark aggregates over billions
of rows: Spark computes the sums (with `poisson_unit_deviance` applied per row),
`metrics_from_sums` turns them into a `Metrics`.
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


def _f64(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def poisson_unit_deviance(actual: ArrayLike, predicted: ArrayLike) -> FloatArray:
    """Per-row Poisson deviance 2 * (y log(y/mu) - (y - mu)), with the y = 0 limit 2 * mu."""
    y = _f64(actual)
    mu = np.maximum(_f64(predicted), MIN_PREDICTION)
    safe_y = np.where(y > 0, y, 1.0)
    y_log = np.where(y > 0, y * np.log(safe_y / mu), 0.0)
    return 2.0 * (y_log - (y - mu))


@dataclass(frozen=True)
class MetricSums:
    """Additive statistics of a set of rows; metrics of a union are the metrics of the summed sums."""

    rows: int = 0
    abs_error: float = 0.0
    squared_error: float = 0.0
    deviance: float = 0.0
    predicted: float = 0.0
    actual: float = 0.0
    earned: float = 0.0
    """sum(min(actual, predicted) * price): the clicks the placement bought, times price."""
    paid: float = 0.0
    """sum(predicted * price): predicted clicks times price."""

    def __add__(self, other: MetricSums) -> MetricSums:
        return MetricSums(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def metric_sums(actual: ArrayLike, predicted: ArrayLike, price: ArrayLike | None = None) -> MetricSums:
    """The sums of rows given as arrays (price None: margin terms are zero)."""
    y = _f64(actual)
    mu = _f64(predicted)
    p = np.zeros_like(y) if price is None else np.nan_to_num(_f64(price))
    err = mu - y
    return MetricSums(
        rows=int(y.size),
        abs_error=float(np.abs(err).sum()),
        squared_error=float((err * err).sum()),
        deviance=float(poisson_unit_deviance(y, mu).sum()),
        predicted=float(mu.sum()),
        actual=float(y.sum()),
        earned=float((np.minimum(y, mu) * p).sum()),
        paid=float((mu * p).sum()),
    )


def margin(earned: float, paid: float, revenue: RevenueModel) -> float:
    """The business margin: commission on the clicks bought, minus the payout for every predicted click.

    Placements are bought for the predicted clicks: predicting too few buys too
    few placements (the clicks beyond the prediction are never earned), predicting
    too many pays for clicks that never come. Per row the margin peaks when the
    prediction equals the real clicks, so a better model earns more.
    """
    return revenue.commission_rate * earned - revenue.payout_share * revenue.commission_rate * paid


def metrics_from_sums(sums: MetricSums, revenue: RevenueModel | None = None) -> Metrics:
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
        margin=margin(sums.earned, sums.paid, revenue or RevenueModel()),
    )


def compute_metrics(
    actual: ArrayLike, predicted: ArrayLike, price: ArrayLike | None = None, revenue: RevenueModel | None = None
) -> Metrics:
    """MAE, RMSE, mean Poisson deviance, calibration and margin of predictions against real clicks."""
    return metrics_from_sums(metric_sums(actual, predicted, price), revenue)


def mae(actual: ArrayLike, predicted: ArrayLike) -> float:
    return float(np.mean(np.abs(_f64(predicted) - _f64(actual))))


def rmse(actual: ArrayLike, predicted: ArrayLike) -> float:
    return float(np.sqrt(np.mean((_f64(predicted) - _f64(actual)) ** 2)))


def mean_poisson_deviance(actual: ArrayLike, predicted: ArrayLike) -> float:
    return float(np.mean(poisson_unit_deviance(actual, predicted)))


def calibration(actual: ArrayLike, predicted: ArrayLike) -> float | None:
    total = float(_f64(actual).sum())
    return float(_f64(predicted).sum()) / total if total > 0 else None


def margin_floor(stable_margin: float, max_decrease: float) -> float:
    """The smallest acceptable candidate margin: at most `max_decrease` of the stable margin's size below it.

    Scaled by |stable| rather than dividing by it, so a zero or negative stable margin still gives a limit
    (zero: the candidate must not lose money; negative: it may lose at most a little more).
    """
    return stable_margin - max_decrease * abs(stable_margin)
