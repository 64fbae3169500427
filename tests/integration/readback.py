#!/usr/bin/env python3
"""Read a run back with MLflow's official Python client and compare it to expectations.

Usage (with the venv's python, see scripts/lib.sh):

    readback.py --tracking-uri URI --run-id ID --expected FILE.json

FILE.json (UTF-8) looks like:

    {
      "status": "FINISHED",
      "params":  {"k": "v", ...},            # must equal the run's params exactly
      "tags":    {"k": "v", ...},            # each must be present with that value
                                             # (MLflow adds its own system tags)
      "metrics": {"key": [[step, timestamp_ms, value], ...], ...},
      "experiment_id": "1",                  # optional
      "run_name": "x"                        # optional
    }

A metric value is a number or one of "NaN", "Infinity", "-Infinity". Values are
compared as exact floats, NaN matching NaN. The set of metric keys must equal the
expected keys exactly, and each key's full history (sorted by step, then timestamp)
must equal the expected points one by one.

Prints one line per difference and exits 1 if there is any; otherwise prints
"readback: OK (...)" and exits 0.
"""

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import mlflowpp_readback as rb  # noqa: E402  (turns MLflow's telemetry off: before mlflow)
from mlflow.tracking import MlflowClient  # noqa: E402

from mlflowpp_readback import compare_dict_exact, fmt  # noqa: E402

SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def to_float(value, where):
    """An expected metric value (number or "NaN"/"Infinity"/"-Infinity") as a float."""
    if isinstance(value, str):
        if value not in SPECIAL_FLOATS:
            raise ValueError(f"{where}: bad metric value {value!r}")
        return SPECIAL_FLOATS[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: bad metric value {value!r}")
    return float(value)


def same_float(a, b):
    """Exact equality, except that NaN equals NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b


def compare_metrics(client, run_id, expected, actual_keys, diffs):
    """Compares metric keys and full histories; returns the number of expected points."""
    expected_keys = set(expected)
    for key in sorted(expected_keys - actual_keys):
        diffs.append(f"metric {fmt(key)}: missing (expected {len(expected[key])} points)")
    for key in sorted(actual_keys - expected_keys):
        diffs.append(f"metric {fmt(key)}: unexpected key")

    n_points = 0
    for key in sorted(expected_keys):
        want = []
        for i, point in enumerate(expected[key]):
            where = f"expected metric {fmt(key)}[{i}]"
            if not isinstance(point, list) or len(point) != 3:
                raise ValueError(f"{where}: must be [step, timestamp_ms, value]")
            step, ts, value = point
            want.append((int(step), int(ts), to_float(value, where)))
        want.sort(key=lambda p: (p[0], p[1]))
        n_points += len(want)
        if key not in actual_keys:
            continue

        got = [
            (int(m.step), int(m.timestamp), float(m.value))
            for m in client.get_metric_history(run_id, key)
        ]
        got.sort(key=lambda p: (p[0], p[1]))
        if len(got) != len(want):
            diffs.append(
                f"metric {fmt(key)}: expected {len(want)} points, got {len(got)}"
            )
        for i, (w, g) in enumerate(zip(want, got)):
            if w[0] != g[0] or w[1] != g[1] or not same_float(w[2], g[2]):
                diffs.append(
                    f"metric {fmt(key)} point {i} (sorted by step, timestamp): "
                    f"expected (step={w[0]}, ts={w[1]}, value={w[2]!r}), "
                    f"got (step={g[0]}, ts={g[1]}, value={g[2]!r})"
                )
        if len(got) > len(want):
            for g in got[len(want):]:
                diffs.append(
                    f"metric {fmt(key)}: extra point (step={g[0]}, ts={g[1]}, value={g[2]!r})"
                )
        elif len(want) > len(got):
            for w in want[len(got):]:
                diffs.append(
                    f"metric {fmt(key)}: missing point (step={w[0]}, ts={w[1]}, value={w[2]!r})"
                )
    return n_points


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--expected", required=True, help="expected-state JSON file (UTF-8)")
    args = parser.parse_args()

    with open(args.expected, encoding="utf-8") as f:
        expected = json.load(f)

    client = MlflowClient(tracking_uri=args.tracking_uri)
    run = client.get_run(args.run_id)
    info, data = run.info, run.data
    diffs = []

    # Status, and an end time for every terminal status.
    want_status = expected.get("status")
    if want_status is not None and info.status != want_status:
        diffs.append(f"status: expected {want_status}, got {info.status}")
    if info.status in rb.TERMINAL_STATUSES and not info.end_time:
        diffs.append(f"end_time: not set although status is {info.status}")

    # Optional identity checks.
    if "experiment_id" in expected and str(info.experiment_id) != str(expected["experiment_id"]):
        diffs.append(
            f"experiment_id: expected {expected['experiment_id']}, got {info.experiment_id}"
        )
    if "run_name" in expected and info.run_name != expected["run_name"]:
        diffs.append(
            f"run_name: expected {fmt(expected['run_name'])}, got {fmt(info.run_name)}"
        )

    # Params: exactly the expected ones.
    want_params = expected.get("params", {})
    compare_dict_exact("param", want_params, dict(data.params), diffs)

    # Tags: the expected ones must be there (MLflow adds mlflow.* system tags).
    want_tags = expected.get("tags", {})
    for key in sorted(want_tags):
        if key not in data.tags:
            diffs.append(f"tag {fmt(key)}: missing (expected {fmt(want_tags[key])})")
        elif data.tags[key] != want_tags[key]:
            diffs.append(
                f"tag {fmt(key)}: expected {fmt(want_tags[key])}, got {fmt(data.tags[key])}"
            )

    # Metrics: same set of keys, and full histories equal point by point.
    want_metrics = expected.get("metrics", {})
    n_points = compare_metrics(client, args.run_id, want_metrics, set(data.metrics), diffs)

    if diffs:
        for d in diffs:
            print(f"readback: MISMATCH {d}")
        print(f"readback: FAILED ({len(diffs)} difference(s)) for run {args.run_id}")
        return 1
    print(
        f"readback: OK ({len(want_params)} params, {len(want_tags)} tags, "
        f"{len(want_metrics)} metric keys, {n_points} points)"
    )
    return 0


if __name__ == "__main__":
    rb.main_wrapper("readback", main)
