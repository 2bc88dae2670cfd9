"""spark-submit entry file: `spark-submit jobs/train.py --help` (or `python jobs/train.py --master ...`).

It imports the jobs CLI alone, so it runs in the jobs image (the `jobs` extra, no kubernetes).
"""

from clickcast.cli.jobs import run_job

run_job("train")
