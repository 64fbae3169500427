"""Scenario e's Python client: MlflowClient().log_artifact or download_artifacts of one large
file through the server's artifact proxy, timed after one untimed request, with the peak
memory (VmHWM) before and after. Prints one JSON object.

  python python_artifacts.py upload   RUN_ID LOCAL_FILE ARTIFACT_DIR
  python python_artifacts.py download RUN_ID ARTIFACT_PATH LOCAL_DIR
(MLFLOW_TRACKING_URI: the server)
"""
import json
import os
import sys
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
from mlflow.tracking import MlflowClient  # noqa: E402


def vm_hwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def main():
    op, run_id, src, dst = sys.argv[1:5]
    client = MlflowClient()
    client.get_run(run_id)
    before = vm_hwm_kib()
    t0 = time.perf_counter()
    local = ""  # the downloaded file
    if op == "upload":
        client.log_artifact(run_id, src, dst)
    elif op == "download":
        local = client.download_artifacts(run_id, src, dst)
    else:
        sys.exit(f"unknown operation {op}")
    seconds = time.perf_counter() - t0
    after = vm_hwm_kib()
    size = os.path.getsize(local or src)
    print(json.dumps({"client": "python", "op": op, "bytes": size, "seconds": seconds,
                      "hwm_before_kib": before, "hwm_after_kib": after, "path": local}))


if __name__ == "__main__":
    main()
