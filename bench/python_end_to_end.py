"""Scenarios b and h: the official Python client doing what bench_end_to_end.cpp does, in the
ways a Python user would. MLFLOW_TRACKING_URI points at the server (or a sqlite:/// file).
  sync         MlflowClient.log_metric per point (one request each)
  async        mlflow.log_metric(..., synchronous=False) per point, then end_run (drains);
               MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS in the environment makes it buffer
  batch        MlflowClient.log_batch in chunks of 1000 metrics
Prints one JSON object per mode. Usage: python python_end_to_end.py POINTS RUN_NAME MODE"""
import json
import os
import sys
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
import mlflow  # noqa: E402
from mlflow.entities import Metric  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


def peak_rss_kib():
    """VmHWM of this process (getrusage would include the harness's RSS at fork time)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def main():
    n = int(sys.argv[1])
    run_name = sys.argv[2]
    mode = sys.argv[3]
    client = MlflowClient()
    exp = mlflow.set_experiment("bench-end-to-end")
    if mode == "async":
        with mlflow.start_run(run_name=run_name) as run:
            t0 = time.perf_counter()
            for step in range(n):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step, synchronous=False)
            t1 = time.perf_counter()
        t2 = time.perf_counter()  # end_run drained the async queue
        run_id = run.info.run_id
    else:
        run_id = client.create_run(exp.experiment_id, run_name=run_name).info.run_id
        t0 = time.perf_counter()
        if mode == "sync":
            for step in range(n):
                client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
        elif mode == "batch":
            now = int(time.time() * 1000)
            for start in range(0, n, 1000):
                client.log_batch(
                    run_id,
                    metrics=[Metric("loss", 1.0 / (s + 1), now, s) for s in range(start, min(n, start + 1000))],
                )
        else:
            raise SystemExit(f"unknown mode {mode}")
        t1 = time.perf_counter()
        client.set_terminated(run_id)
        t2 = time.perf_counter()
    print(json.dumps({"client": f"python-{mode}", "run_id": run_id, "points": n,
                      "training_thread_s": t1 - t0, "total_s": t2 - t0,
                      "peak_rss_kib": peak_rss_kib()}), flush=True)


if __name__ == "__main__":
    main()
