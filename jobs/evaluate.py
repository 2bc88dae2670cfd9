"""spark-submit entry file: `spark-submit jobs/evaluate.py --help` (or `python jobs/evaluate.py --master ...`)."""

import sys

from clickcast.cli.main import app

app(["evaluate", *sys.argv[1:]])
