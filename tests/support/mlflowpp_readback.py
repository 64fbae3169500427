"""Code shared by the Python read-back scripts of the tests (tests/integration/*.py).

Those scripts check, with MLflow's official Python client, what mlflowpp wrote. Each one
starts with

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
    import mlflowpp_readback as rb  # before mlflow: it turns MLflow's telemetry off

(tests/integration/run_python.sh also puts this folder on PYTHONPATH). Standard library
only; importing it does not import mlflow.
"""

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time

# Before any `import mlflow`: the test machines have no business sending telemetry.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

TERMINAL_STATUSES = {"FINISHED", "FAILED", "KILLED"}


def tracking_uri():
    """MLFLOWPP_TEST_TRACKING_URI, else MLFLOW_TRACKING_URI; "" when neither is set."""
    for name in ("MLFLOWPP_TEST_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        value = os.environ.get(name, "")
        if value:
            return value
    return ""


def fmt(x):
    """A value in a message: floats by repr (exact), everything else as JSON."""
    return repr(x) if isinstance(x, float) else json.dumps(x, ensure_ascii=False)


def compare_dict_exact(what, expected, actual, diffs):
    """Appends to `diffs` one line per key missing, unexpected or with another value."""
    for key in sorted(expected.keys() - actual.keys()):
        diffs.append(f"{what} {fmt(key)}: missing (expected {fmt(expected[key])})")
    for key in sorted(actual.keys() - expected.keys()):
        diffs.append(f"{what} {fmt(key)}: unexpected (value {fmt(actual[key])})")
    for key in sorted(expected.keys() & actual.keys()):
        if expected[key] != actual[key]:
            diffs.append(f"{what} {fmt(key)}: expected {fmt(expected[key])}, got {fmt(actual[key])}")


def file_sha256(path):
    """The SHA-256 (hex) of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fail(prog, lines):
    """Prints each problem and a FAILED line, prefixed with `prog`; returns exit status 1."""
    for line in lines:
        print(f"{prog}: {line}")
    print(f"{prog}: FAILED ({len(lines)} problem(s))")
    return 1


def run_example(cmd, uri, timeout=600, cwd=None):
    """Runs an example program against `uri` (MLFLOW_TRACKING_URI; None: no tracking URI at
    all, so mlflowpp writes ./mlflow.db in `cwd`; no inherited run or experiment
    variables). Returns (stdout lines, seconds taken, problems): problems is empty when the
    program exited with 0, else says why, with the tails of its output."""
    env = dict(os.environ)
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME",
                 "MLFLOW_TRACKING_URI", "MLFLOWPP_TEST_TRACKING_URI"):
        env.pop(name, None)
    if uri is not None:
        env["MLFLOW_TRACKING_URI"] = uri
    started = time.time()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return [], time.time() - started, [f"{' '.join(cmd)} did not finish within {timeout} s"]
    elapsed = time.time() - started
    lines = proc.stdout.splitlines()
    if proc.returncode != 0:
        return lines, elapsed, (
            [f"{' '.join(cmd)} exited with {proc.returncode}"]
            + [f"stdout: {line}" for line in lines[-20:]]
            + [f"stderr: {line}" for line in proc.stderr.splitlines()[-20:]]
        )
    return lines, elapsed, []


@contextlib.contextmanager
def mlflow_server_on(db_path, folder, timeout=120):
    """Starts the pinned `mlflow server` (this interpreter's) on `sqlite:///<db_path>` with
    `folder` as its working folder, yields its URI once /health answers, stops it after.
    Raises RuntimeError with the tail of its log when it does not come up (e.g. it refuses
    the database's schema)."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = os.path.join(folder, "server.log")
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", "sqlite:///" + db_path,
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                with urllib.request.urlopen(uri + "/health", timeout=2) as r:
                    if r.read().strip() == b"OK":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                with open(log_path, errors="replace") as f:
                    tail = f.read()[-3000:]
                raise RuntimeError(f"mlflow server on {db_path} did not come up:\n{tail}")
            time.sleep(0.5)
        yield uri
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)


def steps_per_epoch(first_line):
    """N from an example's first line, "data: ... (train 1438, test 359), N steps per epoch";
    None when it is not there."""
    m = re.search(r"(\d+) steps per epoch", first_line)
    return int(m.group(1)) if m else None


def unique_suffix():
    """A suffix no other test run uses: milliseconds and 8 random hex digits."""
    return f"{int(time.time() * 1000)}-{os.urandom(4).hex()}"


def main_wrapper(prog, main, error_status=1, failed_line=False):
    """Runs `main()` as a script's entry point: UTF-8 console (keys and values may be
    non-ASCII), and an exception (bad input file, unknown run, unreachable server) printed
    as one "prog: ERROR ..." line (then "prog: FAILED" when `failed_line`) with
    `error_status`. Exits with main's status otherwise."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(encoding="utf-8", errors="backslashreplace")
        except (AttributeError, ValueError):
            pass
    try:
        status = main()
    except Exception as e:  # noqa: BLE001 (reported, never a traceback)
        print(f"{prog}: ERROR {type(e).__name__}: {e}")
        if failed_line:
            print(f"{prog}: FAILED")
        status = error_status
    sys.exit(status)
