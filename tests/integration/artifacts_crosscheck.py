#!/usr/bin/env python3
"""Cross-check artifacts with MLflow's official Python client.

Usage (with the venv's python, see scripts/lib.sh):

    artifacts_crosscheck.py download --tracking-uri URI --run-id ID --path P --expect DIR
        Downloads the artifact directory P ("" = the run's root) with
        MlflowClient.download_artifacts and compares the tree with the local directory DIR:
        the same relative file paths, byte for byte. Prints one line per difference and
        exits 1 if there is any; otherwise prints "crosscheck: OK (N files, B bytes)".

    artifacts_crosscheck.py upload --tracking-uri URI --run-id ID --src DIR --artifact-path P
        Uploads the local directory DIR under P with MlflowClient.log_artifacts, then prints
        "crosscheck: uploaded N files, B bytes".
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import mlflowpp_readback as rb  # noqa: E402  (turns MLflow's telemetry off: before mlflow)
from mlflow.tracking import MlflowClient  # noqa: E402


def tree(root):
    """{relative posix path: (size, sha256)} of the files under root."""
    out = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            out[rel] = (os.path.getsize(full), rb.file_sha256(full))
    return out


def download(args):
    client = MlflowClient(tracking_uri=args.tracking_uri)
    with tempfile.TemporaryDirectory(prefix="mlflowpp-crosscheck-") as tmp:
        local = client.download_artifacts(args.run_id, args.path, tmp)
        got = tree(local)
    want = tree(args.expect)
    problems = []
    for rel in sorted(set(want) | set(got)):
        if rel not in got:
            problems.append(f"MISSING {rel!r} (expected {want[rel][0]} bytes)")
        elif rel not in want:
            problems.append(f"UNEXPECTED {rel!r} ({got[rel][0]} bytes)")
        elif got[rel] != want[rel]:
            problems.append(
                f"MISMATCH {rel!r}: got {got[rel][0]} bytes sha256 {got[rel][1][:16]}, "
                f"expected {want[rel][0]} bytes sha256 {want[rel][1][:16]}"
            )
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"crosscheck: OK ({len(want)} files, {sum(s for s, _ in want.values())} bytes)")
    return 0


def upload(args):
    client = MlflowClient(tracking_uri=args.tracking_uri)
    client.log_artifacts(args.run_id, args.src, args.artifact_path or None)
    files = tree(args.src)
    print(f"crosscheck: uploaded {len(files)} files, {sum(s for s, _ in files.values())} bytes")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("download")
    d.add_argument("--tracking-uri", required=True)
    d.add_argument("--run-id", required=True)
    d.add_argument("--path", default="")
    d.add_argument("--expect", required=True)
    u = sub.add_parser("upload")
    u.add_argument("--tracking-uri", required=True)
    u.add_argument("--run-id", required=True)
    u.add_argument("--src", required=True)
    u.add_argument("--artifact-path", default="")
    args = parser.parse_args()
    return download(args) if args.command == "download" else upload(args)


if __name__ == "__main__":
    rb.main_wrapper("crosscheck", main)
