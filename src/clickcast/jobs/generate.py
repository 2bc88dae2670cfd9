"""A realistic synthetic click dataset, deterministic by seed (`clickcast data generate`).

Offers are (categoryId, merchantId, category, device) with a price. Merchant
and category popularity are long-tailed (Zipf-like); clicks follow a known
log-linear signal - merchant and category effects, a device effect, a price
elasticity that differs by device, weekly seasonality, a slow trend and
optional regime shifts - with gamma-Poisson over-dispersion, so most rows
have few or no clicks. Generation is vectorised per day and written in
parquet chunks; each day uses its own seeded generator, so the output does
not depend on the chunking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import fsspec
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from clickcast.features.contract import CATEGORY, CATEGORY_ID, CLICKS, DATE, DEVICE, DEVICES, MERCHANT_ID, PRICE

CATEGORY_NAMES = (
    "electronics", "fashion", "home", "garden", "toys", "sports", "beauty", "books", "music", "auto",
    "pets", "baby", "food", "health", "office", "tools", "travel", "games", "jewelry", "shoes",
)  # fmt: skip
DEVICE_SHARE = (0.35, 0.55, 0.10)  # desktop, mobile, tablet
DEVICE_EFFECT = (0.0, 0.25, -0.35)
PRICE_ELASTICITY = (-0.35, -0.55, -0.25)  # mobile users are the most price sensitive
WEEKLY = (0.05, 0.0, -0.02, 0.0, 0.08, 0.25, 0.3)  # Monday..Sunday


@dataclass(frozen=True)
class GeneratorConfig:
    rows: int
    days: int = 90
    seed: int = 0
    start: dt.date = dt.date(2026, 1, 1)
    merchants: int = 3000
    categories: int = 300
    base_rate: float = 0.6
    """Mean clicks of an average offer-day before effects."""
    dispersion: float = 1.5
    """Gamma shape of the over-dispersion (smaller: more zeros and heavier tails)."""
    trend_per_year: float = 0.15
    """Slow log-linear growth of clicks."""
    shifts: Sequence[int] = field(default_factory=tuple)
    """Day indices where a regime shift happens (category effects and the mobile effect move)."""
    shift_strength: float = 0.5
    rows_per_file: int = 1_000_000


def _zipf_weights(n: int, exponent: float, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    w = 1.0 / np.arange(1, n + 1) ** exponent
    rng.shuffle(w)
    out: npt.NDArray[np.float64] = w / w.sum()
    return out


@dataclass(frozen=True)
class _Offers:
    category_id: pa.Array
    merchant_id: pa.Array
    category: pa.Array
    device: pa.Array
    price: npt.NDArray[np.float64]
    cat_idx: npt.NDArray[np.int64]
    dev_idx: npt.NDArray[np.int64]
    log_mu: npt.NDArray[np.float64]
    """The offer's log expected clicks before the date effects."""
    log_popularity: npt.NDArray[np.float64]


def _offers(cfg: GeneratorConfig, pool: int) -> _Offers:
    rng = np.random.default_rng([cfg.seed, 0])
    merchant_w = _zipf_weights(cfg.merchants, 1.1, rng)
    category_w = _zipf_weights(cfg.categories, 0.9, rng)
    merchant_effect = rng.normal(0.0, 0.6, cfg.merchants)
    category_effect = rng.normal(0.0, 0.4, cfg.categories)
    category_price = np.exp(rng.normal(3.3, 0.8, cfg.categories))  # typical price per category, ~27
    category_name = rng.integers(0, len(CATEGORY_NAMES), cfg.categories)

    # Draw more candidates than needed and keep unique offer keys (the join key of real clicks). Popular
    # keys repeat, so a large pool needs more draws: double them until the pool is full (or every key is in).
    n, possible = int(pool * 1.3) + 16, cfg.merchants * cfg.categories * len(DEVICES)
    while True:
        m = rng.choice(cfg.merchants, n, p=merchant_w)
        c = rng.choice(cfg.categories, n, p=category_w)
        d = rng.choice(len(DEVICES), n, p=DEVICE_SHARE)
        key = (m.astype(np.int64) * cfg.categories + c) * len(DEVICES) + d
        _, first = np.unique(key, return_index=True)
        if first.size >= pool or n >= 64 * possible:
            break
        n *= 2
    keep = np.sort(first)[:pool]
    m, c, d = m[keep], c[keep], d[keep]
    k = keep.size
    price = np.round(category_price[c] * np.exp(rng.normal(0.0, 0.5, k)), 2) + 0.99
    elasticity = np.asarray(PRICE_ELASTICITY)[d]
    log_mu = (
        np.log(cfg.base_rate)
        + merchant_effect[m]
        + category_effect[c]
        + np.asarray(DEVICE_EFFECT)[d]
        + elasticity * np.log(price / category_price[c])
    )
    merchant_ids = np.char.add("m", np.char.zfill(np.arange(cfg.merchants).astype(str), 5))
    category_ids = np.char.add("c", np.char.zfill(np.arange(cfg.categories).astype(str), 4))
    return _Offers(
        category_id=pa.array(category_ids[c]),
        merchant_id=pa.array(merchant_ids[m]),
        category=pa.array(np.asarray(CATEGORY_NAMES)[category_name[c]]),
        device=pa.array(np.asarray(DEVICES)[d]),
        price=price,
        cat_idx=c.astype(np.int64),
        dev_idx=d.astype(np.int64),
        log_mu=log_mu,
        log_popularity=np.log(merchant_w[m] * category_w[c]) * 0.5,
    )


def _day_table(cfg: GeneratorConfig, offers: _Offers, day: int, rows: int) -> pa.Table:
    rng = np.random.default_rng([cfg.seed, 1, day])
    # Weighted choice of `rows` distinct offers (Gumbel top-k): popular offers are listed most days.
    keys = offers.log_popularity + rng.gumbel(size=offers.log_popularity.size)
    chosen = np.sort(np.argpartition(-keys, rows - 1)[:rows]) if rows < keys.size else np.arange(keys.size)
    date = cfg.start + dt.timedelta(days=day)
    log_mu = offers.log_mu[chosen] + WEEKLY[date.weekday()] + cfg.trend_per_year * day / 365.0
    shift_rng = np.random.default_rng([cfg.seed, 2])
    for at in sorted(cfg.shifts):
        category_jump = shift_rng.normal(0.0, cfg.shift_strength, cfg.categories)
        if day >= at:
            log_mu = log_mu + category_jump[offers.cat_idx[chosen]]
            log_mu = log_mu + np.where(offers.dev_idx[chosen] == 1, cfg.shift_strength, 0.0)
    lam = np.exp(log_mu) * rng.gamma(cfg.dispersion, 1.0 / cfg.dispersion, chosen.size)
    clicks = rng.poisson(lam)
    idx = pa.array(chosen)
    return pa.table(
        {
            DATE: pa.array(np.full(chosen.size, np.datetime64(date, "D"))),
            CATEGORY_ID: offers.category_id.take(idx),
            MERCHANT_ID: offers.merchant_id.take(idx),
            CATEGORY: offers.category.take(idx),
            DEVICE: offers.device.take(idx),
            PRICE: pa.array(offers.price[chosen]),
            CLICKS: pa.array(clicks.astype(np.int64)),
        }
    )


def rows_per_day(rows: int, days: int) -> list[int]:
    base, extra = divmod(rows, days)
    return [base + (1 if d < extra else 0) for d in range(days)]


def generate(cfg: GeneratorConfig, out_url: str, progress: Callable[[int], None] | None = None) -> int:
    """Write the dataset as parquet files under `out_url` (a directory); return the rows written."""
    if cfg.rows < cfg.days or cfg.days < 1:
        raise ValueError(f"need at least one row per day (rows={cfg.rows}, days={cfg.days})")
    per_day = rows_per_day(cfg.rows, cfg.days)
    offers = _offers(cfg, pool=max(per_day[0] * 3 // 2, per_day[0] + 1))
    fs, root = fsspec.core.url_to_fs(out_url.rstrip("/"))
    fs.makedirs(root, exist_ok=True)
    written, part, pending, pending_rows = 0, 0, list[pa.Table](), 0

    def flush() -> None:
        nonlocal part, pending, pending_rows
        if pending:
            with fs.open(f"{root}/part-{part:05d}.parquet", "wb") as handle:
                pq.write_table(pa.concat_tables(pending), handle, compression="snappy")
            part, pending, pending_rows = part + 1, [], 0

    for day, n in enumerate(per_day):
        table = _day_table(cfg, offers, day, n)
        pending.append(table)
        pending_rows += table.num_rows
        written += table.num_rows
        if pending_rows >= cfg.rows_per_file:
            flush()
        if progress is not None:
            progress(table.num_rows)
    flush()
    return written
