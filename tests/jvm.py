"""How the tests' Spark JVMs start: cheap flags, and Spark's classes from a class-data-sharing archive.

The tests' Spark runs are short and small, so a JVM spends most of its CPU on starting and JIT-compiling:
the client compiler alone, one GC thread and no web UI cut a training test's CPU by about a third
(164 s -> 105 s measured for tests/spark/test_windows.py and one test_train test). On top of that, a
dynamic CDS archive of the classes a Spark session loads (Java 13+, `-XX:ArchiveClassesAtExit`) maps them
instead of parsing and verifying them again: a session that runs two small jobs took 11.5-11.7 s of CPU
without it and 8.0-8.2 s with it on an idle machine (bench/README.md). The suite starts Spark JVMs by the
dozen (sessions, jobs, pods, executors), so the archive is dumped once per machine and reused
(~/.cache/clickcast/spark-cds).

Spark reads `spark.*` system properties as its conf; a value the caller sets wins. A JVM whose class path
or flags differ from the archive's ignores it (its logging is off).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyspark

from clickcast.jobs import s3a

JIT_AND_GC = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
NO_UI = "-Dspark.ui.enabled=false"  # a driver option: Spark refuses spark.* in executors' options
BASE_OPTS = f"{JIT_AND_GC} {NO_UI}"
QUIET_CDS = "-Xlog:cds=off -Xlog:cds+dynamic=off"  # a mismatched archive is skipped without a word
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "clickcast" / "spark-cds"
SPARK_HOME = Path(pyspark.__file__).parent

_WORKLOAD = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[2]").appName("cds").getOrCreate()
out = sys.argv[1]
df = spark.createDataFrame([(i % 7, float(i), str(i)) for i in range(2000)], "a int, b double, c string")
df.groupBy("a").agg({"b": "sum", "c": "count"}).collect()
df.write.mode("overwrite").parquet(out)
spark.read.parquet(out).filter("a > 2").selectExpr("avg(b)").collect()
spark.stop()
"""


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    return str(Path(home) / "bin" / "java") if home else "java"


def _key() -> str:
    version = subprocess.run([_java(), "-version"], capture_output=True, text=True, check=True).stderr
    parts = [version, str(SPARK_HOME), pyspark.__version__, BASE_OPTS, json.dumps(s3a.jars_conf())]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _dump(archive: Path, conf: dict[str, str]) -> None:
    """Run a small Spark workload under spark-submit (so the JVM, not Python, exits last) and keep its archive.

    The archive serves JVMs whose class path starts with the dump's, so the dump runs with the same driver
    class path as they do.
    """
    with tempfile.TemporaryDirectory() as scratch:
        script, partial = Path(scratch) / "workload.py", Path(scratch) / "spark.jsa"
        script.write_text(_WORKLOAD)
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_HOME": str(SPARK_HOME),
               "SPARK_SUBMIT_OPTS": f"{BASE_OPTS} -XX:ArchiveClassesAtExit={partial}"}  # fmt: skip
        for name in ("PYSPARK_SUBMIT_ARGS", "SPARK_CONF_DIR"):
            env.pop(name, None)
        confs = [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]
        argv = [str(SPARK_HOME / "bin" / "spark-submit"), *confs, str(script), str(Path(scratch) / "out")]
        run = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=600)  # fmt: skip
        if run.returncode != 0:
            raise RuntimeError(f"dumping Spark's class archive failed:\n{run.stdout[-2000:]}{run.stderr[-1500:]}")
        archive.parent.mkdir(parents=True, exist_ok=True)
        staged = archive.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(partial, staged)
        os.replace(staged, archive)  # atomic: a concurrent run sees the whole archive or none


def environment() -> dict[str, str]:
    """The variables every Spark JVM of the run inherits (drivers, jobs, pods, a standalone cluster's daemons).

    Two kinds of driver JVM start: spark-submit's (jobs, pods), on Spark's own class path, and pyspark's
    from a Python process (the CLI, the tests' sessions), with the S3A jars in front (jobs/s3a.py). Each
    gets an archive of its own: SPARK_SUBMIT_OPTS names the first, pyspark's PYSPARK_SUBMIT_ARGS the
    second (its later flag wins), and the flags of the executors a standalone cluster launches for it.
    Dumped the first time this machine runs this Java, Spark and flag set. (Not spark-defaults.conf:
    Spark puts its conf directory on the class path, and CDS refuses a non-empty directory there.)
    """
    key = _key()
    plain, with_jars = CACHE / f"{key}.jsa", CACHE / f"{key}-s3a.jsa"
    flags = f"{JIT_AND_GC} -XX:SharedArchiveFile={plain} {QUIET_CDS}"
    env = {"SPARK_SUBMIT_OPTS": f"{flags} {NO_UI}", "SPARK_DAEMON_JAVA_OPTS": flags}
    if not plain.exists():
        _dump(plain, {})
    jars = s3a.jars_conf()
    if jars:
        if not with_jars.exists():
            _dump(with_jars, jars)
        executors = f"{JIT_AND_GC} -XX:SharedArchiveFile={with_jars} {QUIET_CDS}"
        env["PYSPARK_SUBMIT_ARGS"] = shlex.join(["--driver-java-options", f"-XX:SharedArchiveFile={with_jars}",
                                                 "--conf", f"spark.executor.extraJavaOptions={executors}",
                                                 "pyspark-shell"])  # fmt: skip
    return env
