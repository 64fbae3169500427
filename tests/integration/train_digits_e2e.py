#!/usr/bin/env python3
"""End-to-end check of the train_digits example, read back with MLflow's official client.

Usage:

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 train_digits_e2e.py /path/to/train_digits
    train_digits_e2e.py --local /path/to/train_digits

With --local the program runs in an empty folder with no tracking URI (mlflowpp's embedded
local store), and the checks below run twice: through the Python client on the
`sqlite:///<folder>/mlflow.db` it wrote, then through the pinned `mlflow server` started
on that file (which must open it with no migration).

(MLFLOWPP_TEST_TRACKING_URI is used when set, else MLFLOW_TRACKING_URI; one of them is
required.) Runs the program with `--epochs 5 --experiment <unique name>`, takes the run id
from the last line of its stdout (`run_id=<id>`) and checks, through
`mlflow.tracking.MlflowClient`:

  * the run is FINISHED and has an end time;
  * `train_loss` has exactly one point per step, steps exactly 1..N with
    N = 5 x steps_per_epoch (parsed from the program's first line, "... N steps per epoch");
  * `train_accuracy` and `test_accuracy` have one point per epoch at steps 1..5;
  * the final test_accuracy is above 0.90;
  * params lr, hidden, batch_size, epochs ("5"), seed, and tags model, dataset, framework;
  * the artifact confusion_matrix.json holds a 10 x 10 matrix.

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


def run_program(binary, uri, cwd=None):
    """Runs train_digits (against `uri`, or with no tracking URI at all when `uri` is None,
    in `cwd`). Returns (run id, experiment, steps per epoch, seconds, problems)."""
    experiment = f"e2e-train-digits-{rb.unique_suffix()}"
    cmd = [binary, "--epochs", str(EPOCHS), "--experiment", experiment]
    stdout_lines, elapsed, problems = rb.run_example(cmd, uri, cwd=cwd)
    if problems:
        return None, experiment, None, elapsed, problems
    if not stdout_lines:
        return None, experiment, None, elapsed, ["the program printed nothing"]
    # "data: 1797 samples from ... (train 1438, test 359), 45 steps per epoch"
    steps_per_epoch = rb.steps_per_epoch(stdout_lines[0])
    if steps_per_epoch is None:
        return None, experiment, None, elapsed, [f"first line does not give the steps per epoch: {stdout_lines[0]!r}"]
    m = re.fullmatch(r"run_id=([0-9A-Za-z]+)", stdout_lines[-1].strip())
    if not m:
        return None, experiment, None, elapsed, [f"last line is not run_id=<id>: {stdout_lines[-1]!r}"]
    return m.group(1), experiment, steps_per_epoch, elapsed, []


def main(argv):
    local = "--local" in argv
    args = [a for a in argv[1:] if a != "--local"]
    if len(args) != 1:
        print(f"usage: {argv[0]} [--local] /path/to/train_digits", file=sys.stderr)
        return 2
    binary = args[0]
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        return fail([f"not an executable file: {binary}"])
    if not local:
        uri = rb.tracking_uri()
        if not uri:
            return fail(["no tracking server: set MLFLOWPP_TEST_TRACKING_URI or MLFLOW_TRACKING_URI"])
        run_id, experiment, spe, elapsed, problems = run_program(binary, uri)
        if problems:
            return fail(problems)
        return check_run(uri, run_id, experiment, spe, elapsed, "")

    # --local: in an empty folder with no tracking URI, the program must write ./mlflow.db and
    # ./mlruns/ (the embedded local store), which the Python client reads, and which the
    # pinned `mlflow server` serves with no migration.
    import tempfile

    with tempfile.TemporaryDirectory(prefix="e2e-local-") as folder:
        run_id, experiment, spe, elapsed, problems = run_program(binary, None, cwd=folder)
        if problems:
            return fail(problems)
        db = os.path.join(folder, "mlflow.db")
        missing = [p for p in (db, os.path.join(folder, "mlruns")) if not os.path.exists(p)]
        if missing:
            return fail([f"not created: {p}" for p in missing])
        status = check_run("sqlite:///" + db, run_id, experiment, spe, elapsed, " (Python client on the file)")
        if status != 0:
            return status
        with rb.mlflow_server_on(db, folder) as server_uri:
            status = check_run(server_uri, run_id, experiment, spe, elapsed, " (mlflow server on the file)")
            if status != 0:
                return status
            # The server's REST answers and the file agree field for field.
            from mlflow.tracking import MlflowClient

            on_file = MlflowClient(tracking_uri="sqlite:///" + db)
            on_server = MlflowClient(tracking_uri=server_uri)
            a, b = on_file.get_run(run_id), on_server.get_run(run_id)
            diffs = [
                name
                for name, x, y in (
                    ("info", a.info.to_proto(), b.info.to_proto()),
                    ("params", a.data.params, b.data.params),
                    ("tags", a.data.tags, b.data.tags),
                    ("metrics", a.data.metrics, b.data.metrics),
                    ("inputs", a.inputs.to_proto(), b.inputs.to_proto()),
                )
                if x != y
            ]
            for key in a.data.metrics:
                h1 = [(m.step, m.timestamp, m.value) for m in on_file.get_metric_history(run_id, key)]
                h2 = [(m.step, m.timestamp, m.value) for m in on_server.get_metric_history(run_id, key)]
                if sorted(h1) != sorted(h2):
                    diffs.append(f"history of {key}")
            if diffs:
                return fail([f"the server's answer and the file differ in: {', '.join(diffs)}"])
            print(f"train_digits_e2e: OK the server's REST answers equal the file's for run {run_id}")
            return 0


def check_run(uri, run_id, experiment, steps_per_epoch, elapsed, where):
    """Checks the run through MlflowClient(uri); prints OK or the problems."""
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
    # The confusion matrix artifact: 10 x 10 counts summing to the test set's size.
    try:
        import json as _json
        import tempfile as _tempfile

        with _tempfile.TemporaryDirectory() as dst:
            path = client.download_artifacts(run_id, "confusion_matrix.json", dst)
            with open(path) as f:
                matrix = _json.load(f)["rows_true_columns_predicted"]
        if len(matrix) != 10 or any(len(row) != 10 for row in matrix):
            problems.append("confusion_matrix.json is not 10 x 10")
    except Exception as e:  # noqa: BLE001  (any failure to read it is the finding)
        problems.append(f"confusion_matrix.json: {type(e).__name__}: {e}")

    if problems:
        return fail([f"run {run_id}{where}: {p}" for p in problems])
    print(
        f"train_digits_e2e: OK{where} run {run_id} in {experiment!r}: FINISHED, "
        f"train_loss steps 1..{n_steps} ({steps_per_epoch} per epoch), "
        f"final test_accuracy={final_test_acc:.4f}, {len(data.params)} params, "
        f"program took {elapsed:.1f} s"
    )
    return 0


if __name__ == "__main__":
    rb.main_wrapper(PROG, lambda: main(sys.argv), failed_line=True)
