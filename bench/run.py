"""Run the benchmark scenarios (bench/scenarios/) against the servers scripts/bench.sh started
and write OUT/latest.json and OUT/latest.md. Run by scripts/bench.sh; by hand:

  python bench/run.py --out bench/results [--quick] [--only b,f]

With --only, the results of the other scenarios already in OUT stay (each carries its own
start time and commit).

Environment (scripts/bench.sh sets it): MLFLOWPP_BENCH_BIN (the built benchmark programs),
MLFLOWPP_BENCH_SERVERS (JSON: name -> {uri, dir, backend, workers}), MLFLOWPP_LIB_SH.
"""
import argparse
import datetime
import importlib
import json
import os
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import benchlib  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true", help="every scenario small: minutes, not figures")
    ap.add_argument("--only", default="", help="comma-separated scenario ids (a..h)")
    args = ap.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    servers = {}
    for name, s in json.loads(os.environ["MLFLOWPP_BENCH_SERVERS"]).items():
        servers[name] = benchlib.Server(
            name=s["name"], uri=s["uri"], dir=s["dir"], backend=s["backend"], workers=int(s["workers"]),
            lib_sh=os.environ.get("MLFLOWPP_LIB_SH", os.path.join(root, "scripts", "lib.sh")),
        )
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    os.makedirs(args.out, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    results = []
    failed = []
    with tempfile.TemporaryDirectory(prefix="mlflowpp-bench-") as work:
        ctx = benchlib.Context(
            quick=args.quick, bin_dir=os.environ["MLFLOWPP_BENCH_BIN"], python=sys.executable,
            servers=servers, root=root, work_dir=work, reps=1 if args.quick else 3,
        )
        for sid, module in SCENARIOS:
            if only and sid not in only:
                continue
            mod = importlib.import_module(f"scenarios.{module}")
            print(f"== {sid}: {mod.TITLE}", flush=True)
            t0 = datetime.datetime.now()
            try:
                r = mod.run(ctx)
                r.setdefault("notes", [])
            except Exception as e:  # one scenario failing must not hide the others
                traceback.print_exc()
                failed.append(sid)
                r = {"rows": [], "targets": [], "notes": [], "error": f"{type(e).__name__}: {e}"}
            r["id"] = sid
            r["title"] = mod.TITLE
            r["seconds"] = round((datetime.datetime.now() - t0).total_seconds(), 1)
            r["started"] = t0.astimezone(datetime.timezone.utc).isoformat(timespec="seconds")
            r["commit"] = benchlib.git_commit()
            results.append(r)
            for row in r["rows"]:
                print("   ", row["client"], json.dumps(row["figures"]), flush=True)
            for t in r["targets"]:
                print(f"    target {t['what']}: {t['target']} -> {t['measured']} ({_met(t['met'])})", flush=True)
    results = _keep_others(os.path.join(args.out, "latest.json"), results, only, args.quick)
    doc = {
        "started": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": benchlib.machine(),
        "servers": {n: {"backend": s.backend, "workers": s.workers} for n, s in servers.items()},
        "scenarios": results,
    }
    with open(os.path.join(args.out, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write(markdown(doc))
    print(f"wrote {args.out}/latest.json and latest.md", flush=True)
    if failed:
        print(f"scenarios that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _keep_others(path, results, only, quick):
    """With --only, the other scenarios' results already in OUT (from a run of the same mode)
    stay, each with its own start time and commit; the new ones replace theirs."""
    if not only or not os.path.exists(path):
        return results
    try:
        old = json.load(open(path))
    except (OSError, ValueError):
        return results
    if old.get("quick") != quick:
        return results
    mine = {r["id"]: r for r in results}
    kept = {r["id"]: r for r in old.get("scenarios", []) if r["id"] not in mine}
    for r in kept.values():  # results written before scenarios carried their own stamps
        r.setdefault("started", old.get("started", ""))
        r.setdefault("commit", old.get("machine", {}).get("mlflowpp_commit", "?"))
    merged = dict(kept, **mine)
    return [merged[sid] for sid, _ in SCENARIOS if sid in merged]


def _met(m):
    return "met" if m is True else "not met" if m is False else "n/a"


def markdown(doc):
    m = doc["machine"]
    out = [
        "# mlflowpp benchmark results" + (" (--quick: sizes too small for figures)" if doc["quick"] else ""),
        "",
        f"Run {doc['started']} by `scripts/bench.sh{' --quick' if doc['quick'] else ''}` on {m['cpu']}, "
        f"{m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, Linux {m['kernel']}; MLflow {m['mlflow']}, "
        f"{m['python']}, {m['compiler']}, PostgreSQL {m['postgresql']}, SQLite {m['sqlite']}; mlflowpp "
        f"{m['mlflowpp_commit']}. Servers: "
        + ", ".join(f"{n} ({s['backend']}, {s['workers']} worker{'s' if s['workers'] != 1 else ''})"
                    for n, s in doc["servers"].items())
        + ". Medians of the repetitions; the logging process on core 1, the server on core 0 where a "
        "scenario says so.",
        "",
    ]
    for r in doc["scenarios"]:
        out.append(f"## {r['id']}. {r['title']}")
        out.append("")
        if r.get("started"):
            out += [f"*{r['started']}, mlflowpp {r.get('commit', '?')}, {r['seconds']} s.*", ""]
        if r.get("error"):
            out += [f"**Failed:** `{r['error']}`", ""]
        if r["targets"]:
            out += ["| target | wanted | measured | |", "| --- | --- | --- | --- |"]
            for t in r["targets"]:
                out.append(f"| {t['what']} | {t['target']} | {t['measured']} | {_met(t['met'])} |")
            out.append("")
        if r["rows"]:
            names = []
            for row in r["rows"]:
                for k in row["figures"]:
                    if k not in names:
                        names.append(k)
            out.append("| client | " + " | ".join(names) + " |")
            out.append("| --- |" + " --- |" * len(names))
            for row in r["rows"]:
                out.append(f"| {row['client']} | "
                           + " | ".join(benchlib.fmt(row["figures"].get(k, "")) for k in names) + " |")
            out.append("")
        for n in r["notes"]:
            out.append(f"- {n}")
        if r["notes"]:
            out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
