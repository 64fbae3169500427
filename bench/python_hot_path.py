"""Scenario a, the Python side: the cost of one mlflow.log_metric(..., synchronous=False) on
the training thread, timed per call with time.perf_counter_ns (its own cost subtracted), with 1
or N threads logging into one run, in the same pattern as bench_hot_path.cpp: bursts of B calls,
each followed by ~US microseconds of CPU work in native code that releases the GIL, as a
framework's compute kernels do (python_busy.native_work). CALLS and WARMUP are totals over the
threads. Prints one JSON object (MLFLOW_TRACKING_URI names the server).

  python python_hot_path.py [--threads N] [--warmup W] [--calls M] [--burst B] [--gap-us US]
                            [--key PREFIX] [--experiment NAME]
"""
import argparse
import json
import math
import os
import threading
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
import mlflow  # noqa: E402

from python_busy import calibrate_native, native_work  # noqa: E402


def quantile(sorted_values, q):
    """Nearest rank, as bench_clock.hpp's."""
    if not sorted_values:
        return 0.0
    i = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return float(sorted_values[i])


def timer_overhead_ns(n=100000):
    d = []
    for _ in range(n):
        a = time.perf_counter_ns()
        b = time.perf_counter_ns()
        d.append(b - a)
    d.sort()
    return d[n // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--calls", type=int, default=10000)
    ap.add_argument("--burst", type=int, default=100)
    ap.add_argument("--gap-us", type=int, default=1000)
    ap.add_argument("--key", default="train_loss")
    ap.add_argument("--experiment", default="bench-hot-path")
    a = ap.parse_args()

    overhead = timer_overhead_ns()
    gap_chunks = calibrate_native(a.gap_us)
    warm_per, calls_per = a.warmup // a.threads, a.calls // a.threads
    keys = [a.key] if a.threads == 1 else [f"{a.key}_t{t}" for t in range(a.threads)]
    samples = [[] for _ in range(a.threads)]
    barrier = threading.Barrier(a.threads)
    window = {}

    mlflow.set_experiment(a.experiment)
    with mlflow.start_run(run_name=f"py-{a.threads}t") as run:
        run_id = run.info.run_id

        def body(t):
            # MLflow's active run is thread-local: each logging thread makes the run its own
            # active run first (one request, before the warm-up), so that its calls take the path
            # of the thread that started it. (Passing run_id= to log_metric instead costs a
            # synchronous GET of the run in every call.)
            mlflow.start_run(run_id=run_id)
            key, out, step = keys[t], samples[t], 0
            for i in range(0, warm_per, a.burst):
                for _ in range(min(a.burst, warm_per - i)):
                    mlflow.log_metric(key, 0.001 * step, step=step, synchronous=False)
                    step += 1
                native_work(gap_chunks)
            if barrier.wait() == 0:
                window["t0"] = time.perf_counter()
            done = 0
            while done < calls_per:
                n = min(a.burst, calls_per - done)
                for _ in range(n):
                    t0 = time.perf_counter_ns()
                    mlflow.log_metric(key, 0.001 * step, step=step, synchronous=False)
                    out.append(time.perf_counter_ns() - t0)
                    step += 1
                done += n
                native_work(gap_chunks)
            if barrier.wait() == 0:
                window["t1"] = time.perf_counter()

        threads = [threading.Thread(target=body, args=(t,)) for t in range(a.threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        e0 = time.perf_counter()
    end_s = time.perf_counter() - e0  # end_run waits for the async queue to drain

    net = sorted(max(0, x - overhead) for s in samples for x in s)
    print(json.dumps({
        "client": "python", "threads": a.threads, "calls": len(net),
        "p50_ns": quantile(net, 0.5), "p90_ns": quantile(net, 0.9), "p99_ns": quantile(net, 0.99),
        "p999_ns": quantile(net, 0.999), "max_ns": float(net[-1]) if net else 0.0,
        "mean_ns": sum(net) / len(net) if net else 0.0, "timer_overhead_ns": overhead,
        "burst": a.burst, "gap_us": a.gap_us, "window_s": round(window["t1"] - window["t0"], 3),
        "end_s": round(end_s, 3), "run_id": run_id, "keys": keys, "points_per_key": warm_per + calls_per,
        "buffering_s": os.environ.get("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", ""),
    }), flush=True)


if __name__ == "__main__":
    main()
