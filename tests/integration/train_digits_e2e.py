#!/usr/bin/env python3
"""End-to-end check of the train_digits example, read back with MLflow's official client.

Usage:

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 train_digits_e2e.py /path/to/train_digits

(MLFLOWPP_TEST_TRACKING_URI is used when set, else MLFLOW_TRACKING_URI; one of them is
required.) Runs the program with `--epochs 5 --experiment <unique name>`, takes the run id
from the last line of its stdout (`run_id=<id>`) and checks, through
`mlflow.tracking.MlflowClient`:

  * the run is FINISHED and has an end time;
  * `train_loss` has exactly one point per step, steps exactly 1..N with
    N = 5 x steps_per_epoch (parsed from the program's first line, "... N steps per epoch");
  * `train_accuracy` and `test_accuracy` have one point per epoch at steps 1..5;
  * the final test_accuracy is above 0.90;
  * params lr, hidden, batch_size, epochs ("5"), seed, and tags model, dataset, framework.

Prints one summary line and exits 0, or prints every difference and exits 1.
"""

import math
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import mlflowpp_readback as rb  # noqa: E402  (turns MLflow's telemetry off: before mlflow)

EPOCHS = 5
MIN_TEST_ACCURACY = 0.90
REQUIRED_PARAMS = ("lr", "hidden", "batch_size", "epochs", "seed")
REQUIRED_TAGS = ("model", "dataset", "framework")
PROG = "train_digits_e2e"


def fail(lines):
    return rb.fail(PROG, lines)


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} /path/to/train_digits", file=sys.stderr)
        return 2
    binary = argv[1]
    uri = rb.tracking_uri()
    if not uri:
        return fail(["no tracking server: set MLFLOWPP_TEST_TRACKING_URI or MLFLOW_TRACKING_URI"])
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        return fail([f"not an executable file: {binary}"])

    experiment = f"e2e-train-digits-{rb.unique_suffix()}"
    cmd = [binary, "--epochs", str(EPOCHS), "--experiment", experiment]
    stdout_lines, elapsed, problems = rb.run_example(cmd, uri)
    if problems:
        return fail(problems)
    if not stdout_lines:
        return fail(["the program printed nothing"])

    # "data: 1797 samples from ... (train 1438, test 359), 45 steps per epoch"
    steps_per_epoch = rb.steps_per_epoch(stdout_lines[0])
    if steps_per_epoch is None:
        return fail([f"first line does not give the steps per epoch: {stdout_lines[0]!r}"])
    m = re.fullmatch(r"run_id=([0-9A-Za-z]+)", stdout_lines[-1].strip())
    if not m:
        return fail([f"last line is not run_id=<id>: {stdout_lines[-1]!r}"])
    run_id = m.group(1)

    from mlflow.tracking import MlflowClient  # after the telemetry setting

    client = MlflowClient(tracking_uri=uri)
    problems = []
    run = client.get_run(run_id)
    info, data = run.info, run.data

    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        problems.append(f"experiment {experiment!r} does not exist")
    elif info.experiment_id != exp.experiment_id:
        problems.append(f"run is in experiment {info.experiment_id}, expected {exp.experiment_id}")
    if info.status != "FINISHED":
        problems.append(f"status is {info.status}, expected FINISHED")
    if not info.end_time:
        problems.append("end_time is not set")
    elif info.end_time < info.start_time:
        problems.append(f"end_time {info.end_time} is before start_time {info.start_time}")

    # train_loss: exactly one point per global step, steps 1..N.
    n_steps = EPOCHS * steps_per_epoch
    loss = client.get_metric_history(run_id, "train_loss")
    steps = sorted(p.step for p in loss)
    if steps != list(range(1, n_steps + 1)):
        missing = sorted(set(range(1, n_steps + 1)) - set(steps))
        extra = sorted(set(steps) - set(range(1, n_steps + 1)))
        dups = len(steps) - len(set(steps))
        problems.append(
            f"train_loss: {len(steps)} points, expected exactly steps 1..{n_steps} "
            f"(missing {missing[:10]}{'...' if len(missing) > 10 else ''}, "
            f"unexpected {extra[:10]}{'...' if len(extra) > 10 else ''}, {dups} duplicate(s))"
        )
    bad_values = [p.step for p in loss if not math.isfinite(p.value) or p.value < 0]
    if bad_values:
        problems.append(f"train_loss: non-finite or negative values at steps {bad_values[:10]}")

    # Accuracies: one point per epoch, steps 1..EPOCHS, in [0, 1].
    final_test_acc = None
    for key in ("train_accuracy", "test_accuracy"):
        hist = sorted(client.get_metric_history(run_id, key), key=lambda p: (p.step, p.timestamp))
        got_steps = [p.step for p in hist]
        if got_steps != list(range(1, EPOCHS + 1)):
            problems.append(f"{key}: steps {got_steps}, expected {list(range(1, EPOCHS + 1))}")
        out_of_range = [(p.step, p.value) for p in hist if not (0.0 <= p.value <= 1.0)]
        if out_of_range:
            problems.append(f"{key}: values outside [0, 1]: {out_of_range}")
        if key == "test_accuracy" and hist:
            final_test_acc = hist[-1].value
    if final_test_acc is None:
        problems.append("test_accuracy: no points")
    elif not final_test_acc > MIN_TEST_ACCURACY:
        problems.append(f"final test_accuracy {final_test_acc:.4f} is not above {MIN_TEST_ACCURACY}")

    for key in REQUIRED_PARAMS:
        if key not in data.params:
            problems.append(f"param {key!r} is missing")
    if data.params.get("epochs") not in (None, str(EPOCHS)):
        problems.append(f"param 'epochs' is {data.params['epochs']!r}, expected {str(EPOCHS)!r}")
    for key in REQUIRED_TAGS:
        if key not in data.tags:
            problems.append(f"tag {key!r} is missing")

    if problems:
        return fail([f"run {run_id}: {p}" for p in problems])
    print(
        f"train_digits_e2e: OK run {run_id} in {experiment!r}: FINISHED, "
        f"train_loss steps 1..{n_steps} ({steps_per_epoch} per epoch), "
        f"final test_accuracy={final_test_acc:.4f}, {len(data.params)} params, "
        f"program took {elapsed:.1f} s"
    )
    return 0


if __name__ == "__main__":
    rb.main_wrapper(PROG, lambda: main(sys.argv), failed_line=True)
