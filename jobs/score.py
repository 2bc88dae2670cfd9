"""spark-submit entry file: `spark-submit jobs/score.py --help` (or `python jobs/score.py --master ...`).

It imports the jobs CLI alone, so it runs in the jobs image (the `jobs` extra, no kubernetes).
"""

from clickcast.cli.jobs import run_job

run_job("score")
