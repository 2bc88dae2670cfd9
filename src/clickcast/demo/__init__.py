"""`clickcast demo`: the whole lifecycle of one ClickModel on this machine, with `clickcast run`'s runner.

A simulated market replays generated click data day by day: its offers as HTTP traffic at the stable
endpoint, then that day's real clicks into the data lake. Time is compressed: the runner's clock moves on by
a monitoring or canary interval per day fed, so the lifecycle core schedules exactly as it would over days.
"""
