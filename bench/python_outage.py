"""Scenario d, the Python client's side: what bench_outage.cpp does, with
mlflow.log_metric(..., synchronous=False), the Python client's own asynchronous logging.
Takes turns with the scenario module through files in a control folder (see bench_outage.cpp):
started.json, then waits for `go` (server stopped), logs, writes logged.json, waits for `back`
(server restarted), waits for delivery up to DEADLINE seconds, prints one JSON line.

  python python_outage.py CONTROL_DIR POINTS DEADLINE_S   (MLFLOW_TRACKING_URI set)

The Python queue keeps every point in memory (no spool); its workers retry each batch with
the HTTP retry policy (MLFLOW_HTTP_REQUEST_MAX_RETRIES, 7; waits 4, 8, ... 120 s) and then
log an error and give the batch up. Errors are counted from its log records. By default its
queue sends each point as its own request; MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=N makes it
wait N seconds between rounds and merge what was queued into batches of < 1000."""
import json
import logging
import os
import sys
import threading
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
import mlflow  # noqa: E402


class CountErrors(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.count = 0
        self.first = ""

    def emit(self, record):
        self.count += 1
        if not self.first:
            self.first = record.getMessage()[:300]


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def write_file(path, doc):
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f)
    os.rename(path + ".tmp", path)


def wait_for_file(path, limit_s):
    until = time.monotonic() + limit_s
    while not os.path.exists(path):
        if time.monotonic() > until:
            raise SystemExit(f"no {path}")
        time.sleep(0.005)


def main():
    ctl, points, deadline_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    errors = CountErrors()
    logging.getLogger("mlflow").addHandler(errors)
    mlflow.set_experiment("bench-outage")
    run = mlflow.start_run(run_name=f"py-outage-{points}")
    write_file(os.path.join(ctl, "started.json"), {"run_id": run.info.run_id})

    wait_for_file(os.path.join(ctl, "go"), 120)
    rss_before = status_kib("VmRSS")
    t0 = time.perf_counter()
    for step in range(points):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step, synchronous=False)
    t1 = time.perf_counter()
    write_file(os.path.join(ctl, "logged.json"), {
        "log_s": t1 - t0, "rss_before_kib": rss_before, "rss_after_kib": status_kib("VmRSS"),
        "hwm_kib": status_kib("VmHWM"), "errors": errors.count,
    })

    wait_for_file(os.path.join(ctl, "back"), 300)
    t_back = time.perf_counter()
    # flush_async_logging waits for every queued batch (retries included); bounded here.
    done = threading.Event()

    def flush():
        try:
            mlflow.flush_async_logging()
        finally:
            done.set()

    threading.Thread(target=flush, daemon=True).start()
    finished = done.wait(deadline_s)
    t_done = time.perf_counter()
    if finished:
        mlflow.end_run()
    buffering = os.environ.get("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS")
    print(json.dumps({
        "client": "python-async" + (f" (buffering {buffering} s)" if buffering else ""), "points": points, "flushed": 1 if finished else 0,
        "deliver_s": t_done - t_back, "errors": errors.count, "first_error": errors.first,
        "hwm_kib": status_kib("VmHWM"),
    }), flush=True)
    # Past the deadline the queue's threads still hold batches: leave without waiting for them.
    os._exit(0)


if __name__ == "__main__":
    main()
