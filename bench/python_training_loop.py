"""Scenario c, the Python side: bench_training_loop.cpp's loop in Python. Each step runs a fixed
amount of Python CPU work (python_busy.busy_work, calibrated once to ~1 ms and passed to every
process), then logs K metrics (distinct keys) with mlflow.log_metrics(..., synchronous=False),
Python's way of logging several metrics at one step. K = 0 is the baseline: the same loop, no
mlflow call. Prints one JSON object (MLFLOW_TRACKING_URI names the server).

  python python_training_loop.py --calibrate [--work-us 1000]
  python python_training_loop.py --work-iters N --steps S [--warmup-steps W] [--metrics K]
                                 [--experiment NAME] [--isolate C]

--isolate C: after the first logged step (MLflow's logging threads exist by then), the training
(main) thread alone on core C, every other thread on the process's other cores.
"""
import argparse
import json
import math
import os
import statistics
import threading
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from python_busy import busy_work, calibrate  # noqa: E402


def quantile(sorted_values, q):
    i = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))  # nearest rank
    return sorted_values[i]


def isolate(cpu):
    """The calling thread alone on core `cpu`, the process's other threads on its other cores
    (Linux: sched_setaffinity takes thread ids; a thread started later inherits its creator's)."""
    others = os.sched_getaffinity(0) - {cpu}
    if not others:
        raise SystemExit("--isolate needs a second core")
    me = threading.get_native_id()
    for tid in os.listdir("/proc/self/task"):
        if int(tid) != me:
            try:
                os.sched_setaffinity(int(tid), others)
            except OSError:
                pass  # the thread ended meanwhile
    os.sched_setaffinity(0, {cpu})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--work-us", type=int, default=1000)
    ap.add_argument("--work-iters", type=int, default=0)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--warmup-steps", type=int, default=-1)
    ap.add_argument("--metrics", type=int, default=0)
    ap.add_argument("--experiment", default="bench-training-loop")
    ap.add_argument("--isolate", type=int, default=-1)
    a = ap.parse_args()
    if a.calibrate:
        print(json.dumps({"work_iters": calibrate(a.work_us), "work_us": a.work_us}), flush=True)
        return
    if a.work_iters <= 0:
        raise SystemExit("need --work-iters N")
    warmup = a.warmup_steps if a.warmup_steps >= 0 else max(10, a.steps // 20)
    keys = [f"layer_{i:03d}/grad_norm" for i in range(a.metrics)]

    run = None
    if a.metrics:
        import mlflow

        mlflow.set_experiment(a.experiment)
        run = mlflow.start_run(run_name=f"py-{a.metrics}-metrics")
    step_us, log_us = [], []
    cpu0 = tcpu0 = 0.0
    for s in range(-warmup, a.steps):
        if s == 0:
            cpu0, tcpu0 = time.process_time(), time.thread_time()
        t0 = time.perf_counter_ns()
        loss = busy_work(a.work_iters, 1.0 + 1e-6 * s)
        t1 = time.perf_counter_ns()
        if run is not None:
            mlflow.log_metrics({k: loss + i for i, k in enumerate(keys)}, step=s + warmup, synchronous=False)
            if s == -warmup and a.isolate >= 0:
                isolate(a.isolate)
        t2 = time.perf_counter_ns()
        if s >= 0:
            step_us.append((t2 - t0) / 1000)
            log_us.append((t2 - t1) / 1000)
    cpu, tcpu = time.process_time() - cpu0, time.thread_time() - tcpu0
    out = {
        "client": "python", "metrics": a.metrics, "steps": a.steps, "work_iters": a.work_iters,
        "mean_us": statistics.fmean(step_us), "log_mean_us": statistics.fmean(log_us),
    }
    step_us.sort()
    log_us.sort()
    out.update({
        "p50_us": quantile(step_us, 0.5), "p99_us": quantile(step_us, 0.99), "max_us": step_us[-1],
        "log_p50_us": quantile(log_us, 0.5), "log_p99_us": quantile(log_us, 0.99),
        "thread_cpu_s": round(tcpu, 4), "process_cpu_s": round(cpu, 4),
    })
    if run is not None:
        e0 = time.perf_counter()
        mlflow.end_run()  # waits for the async queue to drain
        out.update({
            "run_id": run.info.run_id, "points_per_key": a.steps + warmup, "keys": keys,
            "end_s": round(time.perf_counter() - e0, 3),
            "buffering_s": os.environ.get("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", ""),
        })
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
