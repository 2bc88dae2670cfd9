"""Buffered, durable writer of the prediction log (layout in clickcast.store.prediction_log).

Rows are appended column-wise under a lock (cheap on the hot path) and written
by a background thread every `flush_interval` seconds, as soon as `max_rows`
are buffered, and once more on close. Each flush writes one parquet file per
offer day, whole: under a hidden temporary name, fsynced and renamed on a
local filesystem, in one put elsewhere. A failed flush keeps its rows for the
next attempt, so only a full buffer (`max_buffer` rows) ever drops rows, and
that is counted.
"""

from __future__ import annotations

import datetime
import io
import logging
import os
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from clickcast.features import contract
from clickcast.serving import metrics
from clickcast.store import prediction_log as layout

log = logging.getLogger("clickcast.serving")

SCHEMA = pa.schema(
    [
        (layout.REQUEST_ID, pa.string()),
        (layout.TIMESTAMP, pa.timestamp("ms", tz="UTC")),
        (contract.DATE, pa.string()),
        (contract.CATEGORY_ID, pa.string()),
        (contract.MERCHANT_ID, pa.string()),
        (contract.CATEGORY, pa.string()),
        (contract.DEVICE, pa.string()),
        (contract.PRICE, pa.float64()),
        (layout.MODEL, pa.string()),
        (layout.MODEL_VERSION, pa.string()),
        (layout.ROLE, pa.string()),
        (layout.PREDICTED, pa.float64()),
    ]
)
assert tuple(SCHEMA.names) == layout.COLUMNS

# Columns that vary per row; model, version and role are constant per append.
_ROW_COLUMNS = (contract.DATE, contract.CATEGORY_ID, contract.MERCHANT_ID, contract.CATEGORY, contract.DEVICE)


def _array(values: list[Any], field: pa.Field) -> pa.Array:
    if field.name == contract.DATE and values and not isinstance(values[0], str):
        return pa.array(values, type=pa.date32()).cast(pa.string())  # datetime.date -> YYYY-MM-DD in bulk
    return pa.array(values, type=field.type)


def _table(rows: dict[str, list[Any]]) -> pa.Table:
    """Column by column (Table.from_pydict with this schema is far slower); dates may be `datetime.date`."""
    return pa.Table.from_arrays([_array(rows[f.name], f) for f in SCHEMA], schema=SCHEMA)


class PredictionLogWriter:
    """Appends prediction rows and writes them durably to `<url>/date=YYYY-MM-DD/part-....parquet`."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        flush_interval: float = 5.0,
        max_rows: int = 50_000,
        max_buffer: int = 2_000_000,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.flush_interval = flush_interval
        self.max_rows = max_rows
        self.max_buffer = max_buffer
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **(storage_options or {}))
        self.root = self.root.rstrip("/")
        self.writer_id = uuid.uuid4().hex[:12]  # no '-': the file name splits on it
        self._seq = 0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one flush at a time (interval thread vs close)
        self._buffer = self._empty()
        # The first string conversion and parquet write initialise pyarrow's pandas shim: seconds with the
        # GIL held, so do them now rather than in the first flush while serving.
        sample: dict[str, list[Any]] = {f.name: ["x"] for f in SCHEMA}
        sample |= {layout.TIMESTAMP: [0], contract.DATE: [datetime.date(2026, 1, 1)]}
        sample |= {contract.PRICE: [0.0], layout.PREDICTED: [0.0]}
        pq.write_table(_table(sample), io.BytesIO())
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    @staticmethod
    def _empty() -> dict[str, list[Any]]:
        return {name: [] for name in layout.COLUMNS}

    @property
    def pending(self) -> int:
        return len(self._buffer[layout.REQUEST_ID])

    def append(
        self,
        request_id: str,
        columns: dict[str, list[Any]],
        *,
        prices: Sequence[float],
        predicted: Sequence[float],
        version: str,
        role: str,
    ) -> None:
        """Buffer one request's rows; `columns` holds the contract's columns (date as YYYY-MM-DD or date)."""
        n = len(predicted)
        ts = int(time.time() * 1000)
        with self._lock:
            buf = self._buffer
            if len(buf[layout.REQUEST_ID]) + n > self.max_buffer:
                metrics.LOG_DROPPED.inc(n)
                return
            buf[layout.REQUEST_ID].extend([request_id] * n)
            buf[layout.TIMESTAMP].extend([ts] * n)
            for name in _ROW_COLUMNS:
                buf[name].extend(columns[name])
            buf[contract.PRICE].extend(prices)
            buf[layout.MODEL].extend([self.model] * n)
            buf[layout.MODEL_VERSION].extend([version] * n)
            buf[layout.ROLE].extend([role] * n)
            buf[layout.PREDICTED].extend(predicted)
            full = len(buf[layout.REQUEST_ID]) >= self.max_rows
        if full:
            self._wake.set()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self._closed.is_set():
                return
            try:
                self.flush()
            except Exception:  # the thread must survive a store outage; rows stay buffered
                log.exception("prediction log: flush to %s failed; will retry", self.url)

    def flush(self) -> int:
        """Write everything buffered; return the rows written. On error the rows go back to the buffer."""
        with self._flush_lock:
            with self._lock:
                rows, self._buffer = self._buffer, self._empty()
            n = len(rows[layout.REQUEST_ID])
            if n == 0:
                return 0
            try:
                self._write(_table(rows))
            except Exception:
                metrics.LOG_ERRORS.inc()
                with self._lock:  # put them back in front, keeping order
                    for name, values in rows.items():
                        values.extend(self._buffer[name])
                    self._buffer = rows
                raise
            metrics.LOG_ROWS.inc(n)
            return n

    def _write(self, table: pa.Table) -> None:
        stamp = int(time.time() * 1000)
        counts = pc.value_counts(table.column(contract.DATE)).to_pylist()
        if len(counts) > 1:  # usually one day per flush; else one sort, then a zero-copy slice per day
            table = table.sort_by(contract.DATE)
            counts = pc.value_counts(table.column(contract.DATE)).to_pylist()  # first-appearance order = sorted
        start = 0
        for entry in counts:
            day, n = entry["values"], entry["counts"]
            part = table.slice(start, n)
            start += n
            self._seq += 1
            directory = layout.partition_dir(self.root, day)
            name = f"part-{stamp}-{self.writer_id}-{self._seq:06d}.parquet"
            sink = io.BytesIO()
            pq.write_table(part, sink)
            self._put(directory, name, sink.getvalue())

    def _put(self, directory: str, name: str, data: bytes) -> None:
        if not isinstance(self.fs, LocalFileSystem):
            self.fs.pipe_file(f"{directory}/{name}", data)  # one put: readers never see a partial object
            return
        os.makedirs(directory, exist_ok=True)
        tmp = f"{directory}/.{name}.tmp"  # hidden: dataset readers skip dot files
        with open(tmp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, f"{directory}/{name}")
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        """Stop the interval thread and write what is left (idempotent)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=30)
        written = self.flush()
        log.info("prediction log: closed, %d final rows written to %s", written, self.url)
