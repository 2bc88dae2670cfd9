"""spark-submit entry file: `spark-submit jobs/train.py --help` (or `python jobs/train.py --master ...`)."""

import sys

from clickcast.cli.main import app

app(["train", *sys.argv[1:]])
