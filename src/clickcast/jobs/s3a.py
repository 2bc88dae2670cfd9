"""Object storage for Spark: s3:// URLs as s3a://, hadoop-aws on the classpath, credentials as Hadoop conf.

Spark reads S3 through Hadoop's S3A connector, which is not in pyspark: the
jobs image puts hadoop-aws and the AWS SDK bundle in $SPARK_HOME/jars; on a
developer machine `hack/fetch-spark-jars.sh` caches the same pinned jars and
`jars_conf()` puts them on a new session's classpath (`CLICKCAST_SPARK_JARS` names
another directory). Credentials go into the session's Hadoop configuration at
run time, never onto a command line: Spark's default `spark.redaction.regex`
hides them in its UI and event logs.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyspark.sql import SparkSession

from clickcast.store.credentials import StorageOptions

JARS_ENV = "CLICKCAST_SPARK_JARS"
HADOOP_AWS = "hadoop-aws-3.5.0"
"""The connector matching the Hadoop (3.5.0) inside the locked pyspark; see hack/fetch-spark-jars.sh."""


def spark_url(url: str) -> str:
    """What Spark (Hadoop) reads for an fsspec URL: file:///x -> /x, s3://b/k -> s3a://b/k, others unchanged."""
    if url.startswith("file:///"):
        return url.removeprefix("file://")
    if url.startswith("s3://"):
        return "s3a://" + url.removeprefix("s3://")
    return url


def jars_dir() -> Path | None:
    """The directory of the S3A jars for a local session, if present."""
    explicit = os.environ.get(JARS_ENV)
    if explicit:
        return Path(explicit)
    xdg = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    cached = Path(os.environ.get("CLICKCAST_CACHE") or xdg / "clickcast") / "jars" / HADOOP_AWS
    return cached if cached.is_dir() else None


def jars_conf() -> dict[str, str]:
    """The S3A jars on the driver's and executors' classpath when they are cached on this machine.

    A classpath, not `spark.jars`: that would copy the ~650 MB SDK bundle to
    every executor. Local executors (local mode, a standalone cluster or pods
    run by the dev cluster's pod runner) find the same path; the jobs image
    has the jars in $SPARK_HOME/jars instead.
    """
    directory = jars_dir()
    if directory is None or not any(directory.glob("*.jar")):
        return {}
    classpath = str(directory / "*")
    return {"spark.driver.extraClassPath": classpath, "spark.executor.extraClassPath": classpath}


def hadoop_conf(options: StorageOptions) -> dict[str, str]:
    """S3A settings (without the spark.hadoop. prefix) for these credentials and endpoint."""
    conf = {"fs.s3a.path.style.access": "true"} if options.endpoint_url else {}
    if options.key and options.secret:
        conf |= {"fs.s3a.access.key": options.key, "fs.s3a.secret.key": options.secret}
        provider = "SimpleAWSCredentialsProvider"
        if options.token:
            conf["fs.s3a.session.token"] = options.token
            provider = "TemporaryAWSCredentialsProvider"
        conf["fs.s3a.aws.credentials.provider"] = f"org.apache.hadoop.fs.s3a.{provider}"
    if options.endpoint_url:
        conf["fs.s3a.endpoint"] = options.endpoint_url
        conf["fs.s3a.connection.ssl.enabled"] = str(options.endpoint_url.startswith("https://")).lower()
    if options.region or options.endpoint_url:
        conf["fs.s3a.endpoint.region"] = options.region or "us-east-1"
    return conf


def configure(spark: SparkSession, options: StorageOptions) -> None:
    """Point the session's S3A connector at this store, before its first s3a:// access.

    (Hadoop caches one filesystem per bucket: settings changed after a bucket's
    first use do not reach it.)
    """
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in hadoop_conf(options).items():
        hadoop.set(key, value)
