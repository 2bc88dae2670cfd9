"""The SparkSession of a job, built the same way for local mode, standalone clusters and Kubernetes."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from pyspark.sql import SparkSession

from clickcast.jobs import s3a

DEFAULT_MASTER = "local[*]"

# Fixed settings every job relies on, whatever the cluster's defaults are.
BASE_CONF = {
    "spark.sql.session.timeZone": "UTC",  # dates must not move with the machine's time zone
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}
DEFAULT_CONF = {
    # A job caches its rows after a shuffle (deduplication) and measures them many times; by default adaptive
    # execution may not change a cached plan's partitioning, so every later stage ran one task per shuffle
    # partition (200 on a cluster) over a few MB: 4,800 tasks and 2 min for a training that needs 20 s.
    "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "true",
}
LOCAL_CONF = {
    # 200 shuffle partitions (Spark's default, sized for clusters) make every group-by of a small local run
    # schedule hundreds of tiny tasks; the metrics of one training run dozens of them.
    "spark.sql.shuffle.partitions": "8",
}


def under_spark_submit() -> bool:
    """True when spark-submit launched this interpreter (it then owns the master and the conf)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def spark_session(
    master: str | None = None, app_name: str = "clickcast", conf: Mapping[str, str] | None = None
) -> SparkSession:
    """Get or create the session. `master` None: spark-submit's master, else local[*].

    Python workers must run the driver's interpreter (same packages, same version),
    unless the deployment says otherwise (PYSPARK_PYTHON set, as in the jobs image).
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master is not None or not under_spark_submit():
        builder = builder.master(master or DEFAULT_MASTER)
    for key, value in {**BASE_CONF, **s3a.jars_conf(), **dict(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    given = session.sparkContext.getConf()
    local = (given.get("spark.master") or "").startswith("local")  # also under spark-submit --master local[*]
    for key, value in {**DEFAULT_CONF, **(LOCAL_CONF if local else {})}.items():
        if not given.contains(key):  # what the user or spark-submit set explicitly wins
            session.conf.set(key, value)
    session.sparkContext.setLogLevel("ERROR")
    return session
