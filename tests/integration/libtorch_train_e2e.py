#!/usr/bin/env python3
"""End-to-end check of the libtorch_train example, read back with MLflow's official client.

Usage:

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 libtorch_train_e2e.py /path/to/libtorch_train

(MLFLOWPP_TEST_TRACKING_URI is used when set, else MLFLOW_TRACKING_URI; one of them is
required: without one the script fails with exit status 1.) Runs the program with
`--epochs 5`, a unique `--experiment` and `--model-name`, and `--out-dir` a temporary
directory; checks that the last two lines of its stdout are `run_id=<id>` and
`model_uri=models:/<name>@champion`, then, through `mlflow.MlflowClient`:

  * the run is FINISHED; `train_loss` has one point per step 1..N (N = 5 x the steps per
    epoch the program's first line gives); `train_accuracy`, `test_accuracy`, `test_loss`
    one point per epoch 1..5; the final test_accuracy is above 0.90; params and tags;
  * the run's outputs name one logged model, which exists, is READY, is called
    "digits-mlp", has model_type "torchscript", the run as its source, its params, its
    final metrics, and links the registered version (`mlflow.modelVersions`);
  * `get_model_version_by_alias(name, "champion")` is the registered version, READY, of
    this run, with the source "models:/<model_id>";
  * `list_logged_model_artifacts(model_id)` holds model.pt and MLmodel (the MLflow 3
    layout: the files at the logged model's own artifact location), and
    `mlflow.artifacts.download_artifacts("models:/<name>@champion")` gives a model.pt whose
    SHA-256 equals the program's local file and the same MLmodel;
  * model.pt is a TorchScript archive (a zip with code/__torch__.py, data.pkl, version;
    torch is not installed here, so it is not loaded); MLmodel parses as YAML and with
    mlflow.models.Model.load, names model.pt in a `torchscript` flavor, has no
    python_function flavor, the run and logged model ids, and the float32 [-1, 64] ->
    [-1, 10] tensor signature.

Prints one summary line and exits 0, or prints every difference and exits 1.
"""

import json
import os
import re
import shutil
import sys
import tempfile
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import mlflowpp_readback as rb  # noqa: E402  (turns MLflow's telemetry off: before mlflow)

EPOCHS = 5
MIN_TEST_ACCURACY = 0.90
ALIAS = "champion"
LOGGED_MODEL_NAME = "digits-mlp"
REQUIRED_PARAMS = ("lr", "momentum", "hidden", "batch_size", "epochs", "seed", "optimizer")
REQUIRED_TAGS = {
    "framework": "libtorch",
    "model_format": "torchscript",
    "torchscript_reload_check": "identical",
}
EPOCH_METRICS = ("train_accuracy", "test_accuracy", "test_loss")
PROG = "libtorch_train_e2e"


def fail(lines):
    return rb.fail(PROG, lines)


sha256 = rb.file_sha256


def tensor_spec(width):
    return [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, width]}}]


def check_torchscript_archive(path, problems):
    """model.pt must be a TorchScript zip (not a pickle): <dir>/code/__torch__*.py with a
    forward, <dir>/data.pkl, <dir>/version."""
    if not zipfile.is_zipfile(path):
        problems.append("model.pt is not a zip archive (TorchScript archives are)")
        return
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        tops = {n.split("/", 1)[0] for n in names}
        if len(tops) != 1:
            problems.append(f"model.pt: expected one top-level directory, got {sorted(tops)}")
            return
        top = tops.pop()
        for required in ("data.pkl", "version"):
            if f"{top}/{required}" not in names:
                problems.append(f"model.pt: no {top}/{required} (entries: {names})")
        code = [n for n in names if n.startswith(f"{top}/code/") and n.endswith(".py")]
        if not code:
            problems.append(f"model.pt: no TorchScript code under {top}/code/ (entries: {names})")
        elif not any("def forward" in z.read(n).decode("utf-8", "replace") for n in code):
            problems.append(f"model.pt: no `def forward` in {code}")


def check_mlmodel(path, run_id, model_id, artifact_location, model_pt_size, problems):
    import yaml
    from mlflow.models import Model

    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict):
        problems.append(f"MLmodel: not a YAML mapping: {doc!r}")
        return
    flavors = doc.get("flavors") or {}
    ts = flavors.get("torchscript")
    if not isinstance(ts, dict):
        problems.append(f"MLmodel: no 'torchscript' flavor (flavors: {sorted(flavors)})")
    else:
        if ts.get("model_data") != "model.pt":
            problems.append(f"MLmodel: torchscript.model_data is {ts.get('model_data')!r}, not 'model.pt'")
        if not ts.get("pytorch_version"):
            problems.append("MLmodel: torchscript.pytorch_version is missing")
    # Honesty: nothing implements pyfunc or mlflow.pytorch's loader for this file.
    for wrong in ("python_function", "pytorch"):
        if wrong in flavors:
            problems.append(f"MLmodel: claims the '{wrong}' flavor for a TorchScript file")
    # As MLflow 3 writes it for a logged model: artifact_path is the model's artifact
    # location, model_uuid its id.
    expected = {
        "artifact_path": artifact_location,
        "run_id": run_id,
        "model_id": model_id,
        "model_uuid": model_id,
        "mlflow_version": "3.18.0",
        "model_size_bytes": model_pt_size,
    }
    for key, value in expected.items():
        if doc.get(key) != value:
            problems.append(f"MLmodel: {key} is {doc.get(key)!r}, expected {value!r}")
    if not re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", str(doc.get("utc_time_created", ""))):
        problems.append(f"MLmodel: utc_time_created {doc.get('utc_time_created')!r} is not MLflow's format")
    sig = doc.get("signature") or {}
    for key, width in (("inputs", 64), ("outputs", 10)):
        try:
            got = json.loads(sig.get(key) or "null")
        except ValueError as e:
            problems.append(f"MLmodel: signature.{key} is not JSON: {e}")
            continue
        if got != tensor_spec(width):
            problems.append(f"MLmodel: signature.{key} is {got!r}, expected {tensor_spec(width)!r}")

    # MLflow's own reader agrees.
    model = Model.load(path)
    if model.signature is None:
        problems.append("mlflow.models.Model.load: no signature")
    else:
        shapes = [
            (s.type.name if hasattr(s.type, "name") else str(s.type), tuple(s.shape))
            for s in model.signature.inputs.inputs + model.signature.outputs.inputs
        ]
        if shapes != [("float32", (-1, 64)), ("float32", (-1, 10))]:
            problems.append(f"mlflow.models.Model.load: signature tensors {shapes}")
    if model.run_id != run_id or model.model_id != model_id:
        problems.append(
            f"mlflow.models.Model.load: run_id {model.run_id!r}, model_id {model.model_id!r}"
        )


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} /path/to/libtorch_train", file=sys.stderr)
        return 2
    binary = argv[1]
    uri = rb.tracking_uri()
    if not uri:
        return fail(["no tracking server: set MLFLOWPP_TEST_TRACKING_URI or MLFLOW_TRACKING_URI"])
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        return fail([f"not an executable file: {binary}"])

    suffix = rb.unique_suffix()
    experiment = f"e2e-libtorch-train-{suffix}"
    model_name = f"digits-libtorch-e2e-{suffix}"
    work = tempfile.mkdtemp(prefix="libtorch_train_e2e.")
    try:
        return check(binary, uri, experiment, model_name, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check(binary, uri, experiment, model_name, work):
    out_dir = os.path.join(work, "out")
    cmd = [
        binary, "--epochs", str(EPOCHS), "--experiment", experiment,
        "--model-name", model_name, "--out-dir", out_dir,
    ]
    lines, elapsed, problems = rb.run_example(cmd, uri)
    if problems:
        return fail(problems)
    if len(lines) < 3:
        return fail([f"the program printed too little: {lines!r}"])

    # "data: 1797 samples from ... (train 1438, test 359), 45 steps per epoch"
    steps_per_epoch = rb.steps_per_epoch(lines[0])
    if steps_per_epoch is None:
        return fail([f"first line does not give the steps per epoch: {lines[0]!r}"])
    m = re.fullmatch(r"run_id=([0-9A-Za-z]+)", lines[-2].strip())
    if not m:
        return fail([f"second-to-last line is not run_id=<id>: {lines[-2]!r}"])
    run_id = m.group(1)
    expected_uri = f"models:/{model_name}@{ALIAS}"
    if lines[-1].strip() != f"model_uri={expected_uri}":
        return fail([f"last line is not model_uri={expected_uri}: {lines[-1]!r}"])

    local_pt = os.path.join(out_dir, "model.pt")
    local_mlmodel = os.path.join(out_dir, "MLmodel")
    for path in (local_pt, local_mlmodel):
        if not os.path.isfile(path):
            return fail([f"--out-dir has no {os.path.basename(path)}: {sorted(os.listdir(out_dir))}"])
    local_sha = sha256(local_pt)
    local_size = os.path.getsize(local_pt)

    # The Python client reads the URIs from the environment (download_artifacts resolves
    # models:/ through the registry URI, which follows the tracking URI).
    os.environ["MLFLOW_TRACKING_URI"] = uri
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelStatus

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    problems = []

    # ---- the run
    run = client.get_run(run_id)
    info, data = run.info, run.data
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        problems.append(f"experiment {experiment!r} does not exist")
    elif info.experiment_id != exp.experiment_id:
        problems.append(f"run is in experiment {info.experiment_id}, expected {exp.experiment_id}")
    if info.status != "FINISHED":
        problems.append(f"run status is {info.status}, expected FINISHED")
    if not info.end_time:
        problems.append("run end_time is not set")

    n_steps = EPOCHS * steps_per_epoch
    steps = sorted(p.step for p in client.get_metric_history(run_id, "train_loss"))
    if steps != list(range(1, n_steps + 1)):
        problems.append(f"train_loss: {len(steps)} points, expected exactly steps 1..{n_steps}")
    final_test_acc = None
    for key in EPOCH_METRICS:
        hist = sorted(client.get_metric_history(run_id, key), key=lambda p: (p.step, p.timestamp))
        if [p.step for p in hist] != list(range(1, EPOCHS + 1)):
            problems.append(f"{key}: steps {[p.step for p in hist]}, expected 1..{EPOCHS}")
        if key == "test_accuracy" and hist:
            final_test_acc = hist[-1].value
    if final_test_acc is None or not final_test_acc > MIN_TEST_ACCURACY:
        problems.append(f"final test_accuracy {final_test_acc} is not above {MIN_TEST_ACCURACY}")
    for key in REQUIRED_PARAMS:
        if key not in data.params:
            problems.append(f"run param {key!r} is missing")
    if data.params.get("epochs") != str(EPOCHS):
        problems.append(f"run param epochs is {data.params.get('epochs')!r}, expected {str(EPOCHS)!r}")
    for key, value in REQUIRED_TAGS.items():
        if data.tags.get(key) != value:
            problems.append(f"run tag {key!r} is {data.tags.get(key)!r}, expected {value!r}")

    # ---- the logged model, found through the run's outputs
    outputs = run.outputs.model_outputs if run.outputs else []
    if len(outputs) != 1:
        return fail(problems + [f"run outputs name {len(outputs)} logged models, expected 1"])
    model_id = outputs[0].model_id
    if outputs[0].step != n_steps:
        problems.append(f"run output step is {outputs[0].step}, expected {n_steps}")
    lm = client.get_logged_model(model_id)
    if lm.status != LoggedModelStatus.READY:
        problems.append(f"logged model {model_id} status is {lm.status}, expected READY")
    for attr, value in (("name", LOGGED_MODEL_NAME), ("model_type", "torchscript"), ("source_run_id", run_id)):
        if getattr(lm, attr) != value:
            problems.append(f"logged model {attr} is {getattr(lm, attr)!r}, expected {value!r}")
    if lm.experiment_id != info.experiment_id:
        problems.append(f"logged model is in experiment {lm.experiment_id}, not the run's {info.experiment_id}")
    for key in REQUIRED_PARAMS:
        if lm.params.get(key) != data.params.get(key):
            problems.append(f"logged model param {key!r} is {lm.params.get(key)!r}, run has {data.params.get(key)!r}")
    model_metrics = {m.key: m.value for m in (lm.metrics or [])}
    if abs(model_metrics.get("final_test_accuracy", -1.0) - (final_test_acc or 0.0)) > 1e-12:
        problems.append(f"logged model metric final_test_accuracy {model_metrics.get('final_test_accuracy')!r}, "
                        f"run's last test_accuracy {final_test_acc!r}")

    # ---- the registry
    mv = client.get_model_version_by_alias(model_name, ALIAS)
    rm = client.get_registered_model(model_name)
    if rm.aliases.get(ALIAS) != mv.version:
        problems.append(f"registered model aliases {rm.aliases}, alias version {mv.version}")
    if mv.status != "READY":
        problems.append(f"version {mv.version} status is {mv.status}, expected READY")
    if mv.run_id != run_id:
        problems.append(f"version {mv.version} run_id is {mv.run_id!r}, expected {run_id!r}")
    if mv.source != f"models:/{model_id}":
        problems.append(f"version {mv.version} source is {mv.source!r}, expected 'models:/{model_id}'")
    # Set by the server when a version is created with a model_id (read again: it came
    # after the first read of the logged model); MLflow 3.18 writes the version as a number.
    lm = client.get_logged_model(model_id)
    try:
        links = json.loads(lm.tags.get("mlflow.modelVersions", "[]"))
        links = [(d.get("name"), str(d.get("version"))) for d in links]
    except (ValueError, AttributeError):
        links = None
    if links != [(model_name, str(mv.version))]:
        problems.append(f"logged model tag mlflow.modelVersions is {lm.tags.get('mlflow.modelVersions')!r}")

    # ---- the files
    listed = {f.path: f.file_size for f in client.list_logged_model_artifacts(model_id)}
    if sorted(listed) != ["MLmodel", "model.pt"]:
        problems.append(f"logged model {model_id} artifacts are {sorted(listed)}, expected MLmodel and model.pt")
    if listed.get("model.pt") not in (None, local_size):
        problems.append(f"logged model artifact model.pt is {listed['model.pt']} bytes, local {local_size}")

    dst = os.path.join(work, "download")
    got = mlflow.artifacts.download_artifacts(artifact_uri=expected_uri, dst_path=dst)
    got_pt = os.path.join(got, "model.pt")
    got_mlmodel = os.path.join(got, "MLmodel")
    if not (os.path.isfile(got_pt) and os.path.isfile(got_mlmodel)):
        return fail(problems + [f"download of {expected_uri} holds {sorted(os.listdir(got))}, "
                                "expected model.pt and MLmodel"])
    if sha256(got_pt) != local_sha:
        problems.append(f"downloaded model.pt SHA-256 {sha256(got_pt)} differs from the local {local_sha}")
    with open(got_mlmodel, "rb") as a, open(local_mlmodel, "rb") as b:
        if a.read() != b.read():
            problems.append("downloaded MLmodel differs from the local one")
    check_torchscript_archive(got_pt, problems)
    check_mlmodel(got_mlmodel, run_id, model_id, lm.artifact_location, local_size, problems)

    if problems:
        return fail([f"run {run_id}: {p}" for p in problems])
    print(
        f"libtorch_train_e2e: OK run {run_id} in {experiment!r}: FINISHED, train_loss steps 1..{n_steps}, "
        f"final test_accuracy={final_test_acc:.4f}; logged model {model_id} READY; "
        f"{expected_uri} -> version {mv.version} (source {mv.source}); model.pt sha256 {local_sha[:12]}... "
        f"matches the download from {lm.artifact_location}; "
        f"program took {elapsed:.1f} s"
    )
    return 0


if __name__ == "__main__":
    rb.main_wrapper(PROG, lambda: main(sys.argv), failed_line=True)
