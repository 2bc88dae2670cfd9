"""spark-submit entry file: `spark-submit jobs/evaluate.py --help` (or `python jobs/evaluate.py --master ...`).

It imports the jobs CLI alone, so it runs in the jobs image (the `jobs` extra, no kubernetes).
"""

from clickcast.cli.jobs import run_job

run_job("evaluate")
