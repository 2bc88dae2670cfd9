"""spark-submit entry file: `spark-submit jobs/score.py --help` (or `python jobs/score.py --master ...`)."""

import sys

from clickcast.cli.main import app

app(["score", *sys.argv[1:]])
