"""Scenario g, the Python client's side: one rank logging POINTS metric points into runs
created beforehand, as a Python user after throughput would, in phases that the scenario
module starts together (the protocol of bench_rank.cpp: ready.<i>.<rank>, go.<i>,
done.<i>.<rank>.json in CONTROL_DIR), so that importing mlflow is not part of what is timed:

  python python_rank.py CONTROL_DIR RANK POINTS MODE RUN_ID KEY [MODE RUN_ID KEY ...]

  batch  MlflowClient.log_batch in chunks of 1000 points (one request in flight)
  async  MlflowClient.log_metric(..., synchronous=False) per point, then
         mlflow.flush_async_logging(): the client's queue sends batches from a pool of
         MLFLOW_ASYNC_LOGGING_THREADPOOL_SIZE (10) threads; with
         MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=N it merges what it holds every N seconds
         into batches of < 1000, else it sends each point as its own request

(MLFLOW_TRACKING_URI set.)"""
import json
import logging
import os
import sys
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
import mlflow  # noqa: E402
from mlflow.entities import Metric  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


class CountErrors(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record):
        self.count += 1


def write_file(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def wait_for_file(path, limit_s=600):
    until = time.monotonic() + limit_s
    while not os.path.exists(path):
        if time.monotonic() > until:
            raise SystemExit(f"no {path}")
        time.sleep(0.002)


def log(client, mode, run_id, key, points):
    if mode == "batch":
        now = int(time.time() * 1000)
        for start in range(0, points, 1000):
            metrics = [Metric(key, 1.0 / (s + 1), now, s) for s in range(start, min(points, start + 1000))]
            client.log_batch(run_id, metrics=metrics)
    elif mode == "async":
        for step in range(points):
            client.log_metric(run_id, key, 1.0 / (step + 1), step=step, synchronous=False)
    else:
        raise SystemExit(f"unknown mode {mode}")


def main():
    ctl, rank, points = sys.argv[1], sys.argv[2], int(sys.argv[3])
    phases = [sys.argv[i:i + 3] for i in range(4, len(sys.argv), 3)]
    errors = CountErrors()
    logging.getLogger("mlflow").addHandler(errors)
    client = MlflowClient()
    for i, (mode, run_id, key) in enumerate(phases):
        write_file(os.path.join(ctl, f"ready.{i}.{rank}"), "")
        wait_for_file(os.path.join(ctl, f"go.{i}"))
        errors0, cpu0 = errors.count, time.process_time()
        t0 = time.perf_counter()
        log(client, mode, run_id, key, points)
        t1 = time.perf_counter()
        if mode == "async":
            mlflow.flush_async_logging()
        t2 = time.perf_counter()
        write_file(os.path.join(ctl, f"done.{i}.{rank}.json"), json.dumps({
            "client": f"python-{mode}", "points": points, "log_s": t1 - t0, "total_s": t2 - t0,
            "cpu_s": time.process_time() - cpu0, "errors": errors.count - errors0}))


if __name__ == "__main__":
    main()
