"""Scenario f's Python reader: MlflowClient().get_metric_history, timed after one untimed
request (the import, the session and its connection are set up first). Prints one JSON
object: wall seconds, the process's CPU seconds of the call, the points and whether their
steps are exactly 0..POINTS-1.

  python python_history.py RUN_ID KEY POINTS      (MLFLOW_TRACKING_URI: the server)
"""
import json
import os
import sys
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
from mlflow.tracking import MlflowClient  # noqa: E402


def main():
    run_id, key, points = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = MlflowClient()
    client.get_run(run_id)
    c0, t0 = time.process_time(), time.perf_counter()
    history = client.get_metric_history(run_id, key)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    steps_ok = sorted(m.step for m in history) == list(range(points))
    print(json.dumps({"reader": "python", "seconds": seconds, "cpu_s": cpu, "points": len(history),
                      "steps_ok": steps_ok}))


if __name__ == "__main__":
    main()
