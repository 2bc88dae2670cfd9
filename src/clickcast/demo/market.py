"""The simulated market: generated click data released day by day as traffic and as real clicks."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from clickcast.features.contract import DATE, INPUT_COLUMNS
from clickcast.jobs.generate import GeneratorConfig, generate

BATCH = 250


@dataclass
class Market:
    """Days of offers with their real clicks; the lake holds the days released so far.

    The lake is a directory or an object-store prefix (`s3://bucket/lake` with `storage`'s options): what the
    ClickModel's `data.url` names.
    """

    days: list[pa.Table]
    lake: str
    storage: dict[str, str] = field(default_factory=dict, repr=False)
    released: int = 0

    @classmethod
    def generate(cls, source: Path, lake: Path | str, cfg: GeneratorConfig,
                 storage: dict[str, str] | None = None) -> Market:  # fmt: skip
        generate(cfg, f"file://{source}")
        table = pq.read_table(source)
        dates = pc.unique(table[DATE]).sort()
        days = [table.filter(pc.equal(table[DATE], d)) for d in dates.to_pylist()]
        url = lake if isinstance(lake, str) else f"file://{lake}"
        market = cls(days, url, dict(storage or {}))
        fs, path = market.filesystem()
        fs.makedirs(path, exist_ok=True)
        return market

    def filesystem(self) -> tuple[fsspec.AbstractFileSystem, str]:
        options = dict(self.storage)
        if "endpoint_url" in options:  # s3fs takes the endpoint among the client's arguments
            options["client_kwargs"] = {
                "endpoint_url": options.pop("endpoint_url"),  # type: ignore[assignment]
                **({"region_name": options.pop("region")} if "region" in options else {}),
            }
        options.pop("region", None)
        fs, path = fsspec.core.url_to_fs(self.lake, **options)
        return fs, str(path)

    def release_clicks(self, until: int) -> None:
        """The real clicks of every day before `until` arrive in the lake (one file per day, written whole: a
        hidden name first, which readers skip, then the file's own)."""
        fs, path = self.filesystem()
        for index in range(self.released, until):
            tmp = f"{path}/.part-{index:03d}.parquet"
            with fs.open(tmp, "wb") as out:
                pq.write_table(self.days[index], out)
            fs.mv(tmp, f"{path}/part-{index:03d}.parquet")  # readers never see half a day
        self.released = max(self.released, until)

    def day(self, index: int) -> str:
        return str(self.days[index][DATE][0].as_py())

    def offers(self, index: int) -> list[dict[str, Any]]:
        """Day `index`'s offers as prediction requests (the contract's input columns)."""
        rows = self.days[index].select(list(INPUT_COLUMNS)).to_pylist()
        return [{**r, DATE: str(r[DATE]), "offerId": f"d{index}-{i}"} for i, r in enumerate(rows)]


@dataclass
class Traffic:
    """Requests at the stable endpoint: every failure is counted (a promotion must drop none)."""

    endpoint: str
    sent: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    async def replay(self, offers: list[dict[str, Any]]) -> None:
        """A day of offers, in batches, as an ad server would ask before showing them."""
        async with httpx.AsyncClient(timeout=30) as client:
            for start in range(0, len(offers), BATCH):
                await self._send(client, "/predict/batch", {"offers": offers[start : start + BATCH]})

    async def steady(self, offers: list[dict[str, Any]], stop: asyncio.Event, every: float = 0.05) -> None:
        """Single requests until `stop`: the live traffic a promotion happens under."""
        async with httpx.AsyncClient(timeout=30) as client:
            for offer in itertools.cycle(offers):
                if stop.is_set():
                    return
                await self._send(client, "/predict", offer)
                await asyncio.sleep(every)

    async def _send(self, client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
        self.sent += 1
        try:
            response = await client.post(f"{self.endpoint}{path}", json=body)
        except httpx.HTTPError as exc:
            self._fail(f"{path}: {type(exc).__name__}: {exc}")
            return
        if response.status_code != 200:
            self._fail(f"{path}: HTTP {response.status_code}: {response.text[:200]}")

    def _fail(self, message: str) -> None:
        self.failed += 1
        if len(self.failures) < 5:
            self.failures.append(message)
