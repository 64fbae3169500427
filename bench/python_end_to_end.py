"""The Python client doing what bench_end_to_end.cpp does, in the ways a Python user would:
  sync   - MlflowClient.log_metric per point (one HTTP request each)
  async  - mlflow.log_metric(..., synchronous=False) per point, then end_run (drains)
  batch  - MlflowClient.log_batch with every point (the client splits into 1000s)
Prints one key=value line per mode. Usage: python python_end_to_end.py POINTS [modes...]
(MLFLOW_TRACKING_URI must point at the server)."""
import os
import sys
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
import mlflow  # noqa: E402
from mlflow.entities import Metric  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


def main():
    points = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    modes = sys.argv[2:] or ["async", "batch", "sync"]
    client = MlflowClient()
    exp = mlflow.set_experiment("bench-end-to-end")
    for mode in modes:
        n = points if mode != "sync" else min(points, 2000)  # sync: one request per point
        if mode == "sync":
            run = client.create_run(exp.experiment_id, run_name=f"py-sync-{n}")
            t0 = time.perf_counter()
            for step in range(n):
                client.log_metric(run.info.run_id, "loss", 1.0 / (step + 1), step=step)
            t1 = time.perf_counter()
            client.set_terminated(run.info.run_id)
            t2 = time.perf_counter()
        elif mode == "async":
            with mlflow.start_run(run_name=f"py-async-{n}"):
                t0 = time.perf_counter()
                for step in range(n):
                    mlflow.log_metric("loss", 1.0 / (step + 1), step=step, synchronous=False)
                t1 = time.perf_counter()
            t2 = time.perf_counter()  # end_run drained the async queue
        elif mode == "batch":
            run = client.create_run(exp.experiment_id, run_name=f"py-batch-{n}")
            now = int(time.time() * 1000)
            t0 = time.perf_counter()
            metrics = [Metric("loss", 1.0 / (s + 1), now, s) for s in range(n)]
            client.log_batch(run.info.run_id, metrics=metrics)
            t1 = time.perf_counter()
            client.set_terminated(run.info.run_id)
            t2 = time.perf_counter()
        else:
            raise SystemExit(f"unknown mode {mode}")
        print(
            f"client=python-{mode} points={n} enqueue_ns_per_call={(t1 - t0) / n * 1e9:.1f} "
            f"training_thread_s={t1 - t0:.4f} total_s={t2 - t0:.3f} points_per_s={n / (t2 - t0):.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
