"""The job session's local-mode defaults, in a fresh JVM (the shared test session has its own conf)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.spark
PROBE = """
import sys
from clickcast.jobs.session import spark_session
conf = dict(arg.split("=", 1) for arg in sys.argv[2:])
spark = spark_session(sys.argv[1], "probe", conf)
print(spark.conf.get("spark.sql.shuffle.partitions"))
"""


@pytest.mark.parametrize(
    ("master", "conf", "expected"),
    [("local[1]", [], "8"), ("local[1]", ["spark.sql.shuffle.partitions=3"], "3")],
    ids=["local-default", "explicit-wins"],
)
def test_local_runs_use_few_shuffle_partitions_unless_told(master: str, conf: list[str], expected: str) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, master, *conf], capture_output=True, text=True, timeout=120,
                         check=True).stdout  # fmt: skip
    assert out.strip().splitlines()[-1] == expected
