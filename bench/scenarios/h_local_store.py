"""Scenario h: no server, a local sqlite:/// database (ADR 0008): mlflowpp's embedded store
(the same ActiveRun calls, the logging process on one core) beside the Python client's
SqlAlchemyStore on its own file (log_batch in chunks of 1000, and async log_metric). Each
client writes a fresh database; every point is read back through the official Python client."""
import os
import tempfile

import benchlib

ID = "h"
TITLE = "the local SQLite store (no server)"


def _read_back(db, run_id):
    from mlflow.tracking import MlflowClient

    hist = MlflowClient(tracking_uri=f"sqlite:///{db}").get_metric_history(run_id, "loss")
    steps = {}
    for m in hist:
        steps[m.step] = steps.get(m.step, 0) + 1
    return len(hist), sum(1 for c in steps.values() if c > 1)


def run(ctx):
    n = ctx.scale(100_000, 2_000)
    py_async_n = min(n, ctx.scale(2_000, 100))
    rows, targets, notes = [], [], []
    samples = {}
    py = [ctx.python, ctx.script("python_end_to_end.py")]
    clients = [
        ("mlflowpp", n, lambda db: [ctx.bin("mlflowpp_bench_end_to_end"), n, "local"]),
        ("python log_batch (1000s)", n, lambda db: py + [n, "local", "batch"]),
        ("python async", py_async_n, lambda db: py + [py_async_n, "local", "async"]),
    ]
    for rep in range(ctx.reps):
        for client, count, argv in clients:
            if rep > 0 and client != "mlflowpp" and client != "python log_batch (1000s)":
                continue
            d = tempfile.mkdtemp(prefix="local-", dir=ctx.work_dir)
            db = os.path.join(d, "mlflow.db")
            p = benchlib.run_process(argv(db), env={"MLFLOW_TRACKING_URI": f"sqlite:///{db}"}, cpus=ctx.client_cpu,
                                     cwd=d)
            fig = p.json_lines()[-1]
            got, twice = _read_back(db, fig["run_id"])
            if got != count or twice:
                raise RuntimeError(f"{client}: {got} points read back for {count} logged ({twice} steps twice)")
            samples.setdefault(client, []).append({
                "points": count,
                "wall_s": fig["total_s"],
                "points_per_s": count / fig["total_s"],
                "training_thread_ns_per_point": fig["training_thread_s"] / count * 1e9,
                "client_cpu_s": p.cpu_s,
                "peak_rss_mib": fig["peak_rss_kib"] / 1024,
            })
    med = {c: {k: benchlib.median([s[k] for s in v]) for k in v[0]} for c, v in samples.items()}
    for c, f in med.items():
        f["points"] = int(f["points"])
        rows.append({"client": c, "figures": f})
    cpp, batch = med["mlflowpp"], med["python log_batch (1000s)"]
    targets.append({"what": "metrics per second into the local store", "target": "≥ 200,000/s",
                    "measured": f"{cpp['points_per_s']:,.0f}/s", "met": cpp["points_per_s"] >= 200_000})
    r = cpp["points_per_s"] / batch["points_per_s"]
    targets.append({"what": "vs Python log_batch into sqlite:///", "target": "≥ 50×", "measured": f"{r:.1f}×",
                    "met": r >= 50})
    notes.append("Every client writes its own fresh database file; the process is pinned to one core. wall_s runs "
                 "from the first log call until run.end() returned (mlflowpp) or the last log_batch/end_run "
                 f"returned (Python). python async ran {py_async_n:,} points (one write per point), once.")
    return {"rows": rows, "targets": targets, "notes": notes}
