#!/usr/bin/env python3
"""Cross-check the model registry with MLflow's official Python client.

Usage (with the venv's python, see scripts/lib.sh):

    registry_readback.py --tracking-uri URI verify --expected FILE.json
    registry_readback.py --tracking-uri URI create --spec FILE.json

FILE.json (UTF-8) describes one registered model:

    {
      "name": "digits",
      "description": "text",                       # "" when none
      "tags": {"k": "v", ...},                     # exactly the model's tags
      "aliases": {"champion": "2", ...},           # exactly the model's aliases
      "versions": [                                # in version order: "1", "2", ...
        {"version": "1", "source": "...", "run_id": "...", "description": "...",
         "tags": {"k": "v"}, "aliases": ["challenger"]},
        ...
      ]
    }

verify: reads the model with MlflowClient and compares it with the file exactly (name,
description, tags, aliases, the set of versions, and each version's source, run_id,
description, tags, aliases and READY status); also checks that
`mlflow.MlflowClient().get_model_version_by_alias(name, alias)` resolves every alias to
its version. Prints one line per difference and exits 1 if there is any; otherwise prints
"registry_readback: OK (...)" and exits 0.

create: creates the model from the file with MlflowClient (create_registered_model,
create_model_version for each version in order, set_registered_model_alias), so that the
C++ side can read it back; "run_id" is passed when non-empty. Prints
"registry_readback: CREATED <name>" and exits 0.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import mlflowpp_readback as rb  # noqa: E402  (turns MLflow's telemetry off: before mlflow)
import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from mlflowpp_readback import compare_dict_exact, fmt  # noqa: E402


def compare(what, expected, actual, diffs):
    if expected != actual:
        diffs.append(f"{what}: expected {fmt(expected)}, got {fmt(actual)}")


def verify(client, expected):
    name = expected["name"]
    diffs = []
    rm = client.get_registered_model(name)
    compare("registered model name", name, rm.name, diffs)
    compare("registered model description", expected.get("description", ""), rm.description or "", diffs)
    compare_dict_exact("registered model tag", expected.get("tags", {}), dict(rm.tags), diffs)
    compare_dict_exact(
        "alias", expected.get("aliases", {}), {k: str(v) for k, v in rm.aliases.items()}, diffs
    )

    want_versions = expected.get("versions", [])
    found = client.search_model_versions(f"name = '{name}'")
    compare(
        "versions",
        sorted(v["version"] for v in want_versions),
        sorted(str(mv.version) for mv in found),
        diffs,
    )
    for want in want_versions:
        version = want["version"]
        mv = client.get_model_version(name, version)
        where = f"version {version}"
        compare(f"{where} status", "READY", mv.status, diffs)
        compare(f"{where} source", want.get("source", ""), mv.source, diffs)
        compare(f"{where} run_id", want.get("run_id", ""), mv.run_id or "", diffs)
        compare(f"{where} description", want.get("description", ""), mv.description or "", diffs)
        compare_dict_exact(f"{where} tag", want.get("tags", {}), dict(mv.tags), diffs)
        compare(f"{where} aliases", sorted(want.get("aliases", [])), sorted(mv.aliases), diffs)

    # The fluent-style client, as a user would write it, resolves every alias.
    fluent = mlflow.MlflowClient()
    for alias, version in sorted(expected.get("aliases", {}).items()):
        try:
            mv = fluent.get_model_version_by_alias(name, alias)
            compare(f"get_model_version_by_alias({fmt(alias)})", version, str(mv.version), diffs)
        except Exception as e:  # an alias that does not resolve is a difference, not a crash
            diffs.append(f"get_model_version_by_alias({fmt(alias)}): {type(e).__name__}: {e}")

    if diffs:
        for d in diffs:
            print(f"registry_readback: MISMATCH {d}")
        print(f"registry_readback: FAILED ({len(diffs)} difference(s)) for {fmt(name)}")
        return 1
    print(
        f"registry_readback: OK ({len(want_versions)} versions, {len(expected.get('tags', {}))} tags, "
        f"{len(expected.get('aliases', {}))} aliases)"
    )
    return 0


def create(client, spec):
    name = spec["name"]
    client.create_registered_model(name, tags=spec.get("tags") or None, description=spec.get("description") or None)
    for i, v in enumerate(spec.get("versions", []), start=1):
        mv = client.create_model_version(
            name,
            v["source"],
            run_id=v.get("run_id") or None,
            tags=v.get("tags") or None,
            description=v.get("description") or None,
        )
        if str(mv.version) != str(i):
            raise RuntimeError(f"expected version {i}, the server created {mv.version}")
    for alias, version in spec.get("aliases", {}).items():
        client.set_registered_model_alias(name, alias, version)
    print(f"registry_readback: CREATED {name}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", required=True)
    sub = parser.add_subparsers(dest="command", required=True)
    p_verify = sub.add_parser("verify")
    p_verify.add_argument("--expected", required=True)
    p_create = sub.add_parser("create")
    p_create.add_argument("--spec", required=True)
    args = parser.parse_args()

    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_registry_uri(args.tracking_uri)
    client = MlflowClient(tracking_uri=args.tracking_uri, registry_uri=args.tracking_uri)
    path = args.expected if args.command == "verify" else args.spec
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    return verify(client, doc) if args.command == "verify" else create(client, doc)


if __name__ == "__main__":
    rb.main_wrapper("registry_readback", main, error_status=2)
