"""The embedded runtime of `clickcast run`: the lifecycle core driven with local executors instead of Kubernetes.

Runs (training, scoring, evaluation) are `python -m clickcast …` processes with Spark in local mode; each
serving role is a `clickcast serve` process behind one local front endpoint that plays the stable Service
(rolling a role starts the new process, waits until it is ready, switches, then drains the old one); promotions
go to a local Git repository; the status lives in a file. Every process the runner starts carries its mark and
ends with it, however it ends (`processes`, `ownership`, `watchdog`); started again, the runner reads its status
file and carries on where it was.
"""
