"""Scenario b: N metrics (100,000) until every one is on the server, on both servers: mlflowpp
(ActiveRun::log_metric, then end), the Python client (sync log_metric, async log_metric with
and without MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS, log_batch in chunks of 1000), and the
floor: curl replaying prebuilt log-batch bodies of 1000 metrics over one kept-alive
connection. Every run's points are read back (each step exactly once) and the server's
access log counts the requests."""
import json
import math
import os
import time

import benchlib

ID = "b"
TITLE = "100,000 metrics until all are on the server"

# The Python client's per-point modes send one request per point (async without buffering
# too, measured: a fast producer gets one log-batch per point): measured on this many points
# (full size, quick size) and their rate quoted.
PER_POINT_CAP = (2000, 100)


def _curl_floor(ctx, server, n, tag):
    """Create a run, write ceil(n/1000) bodies, time one curl process sending them all."""
    exp = server.rest("POST", "2.0/mlflow/experiments/create",
                      {"name": f"bench-curl-{tag}-{time.time_ns()}"})["experiment_id"]
    run_id = server.rest("POST", "2.0/mlflow/runs/create", {"experiment_id": exp, "run_name": f"curl-{tag}"})[
        "run"]["info"]["run_id"]
    d = os.path.join(ctx.work_dir, f"bodies-{tag}")
    os.makedirs(d, exist_ok=True)
    now = int(time.time() * 1000)
    cfg = []
    for i, start in enumerate(range(0, n, 1000)):
        body = {"run_id": run_id, "metrics": [
            {"key": "loss", "value": 1.0 / (s + 1), "timestamp": now, "step": s}
            for s in range(start, min(n, start + 1000))]}
        path = os.path.join(d, f"{i}.json")
        with open(path, "w") as f:
            json.dump(body, f, separators=(",", ":"))
        if cfg:
            cfg.append("next")
        cfg += [f'url = "{server.uri}/api/2.0/mlflow/runs/log-batch"', f'data-binary = "@{path}"',
                'header = "Content-Type: application/json"', 'header = "Expect:"', 'output = "/dev/null"',
                "fail"]
    conf = os.path.join(d, "curl.conf")
    with open(conf, "w") as f:
        f.write("\n".join(cfg) + "\n")
    p = benchlib.run_process(["curl", "-sS", "-K", conf], cpus=ctx.client_cpu)
    return run_id, {"total_s": p.wall_s, "points": n}, p


def _client_runs(ctx, server, n, rep):
    """(client, points, launcher) for one repetition; the Python rows run in the first only."""
    env = {"MLFLOW_TRACKING_URI": server.uri}
    per_point_n = min(n, ctx.scale(*PER_POINT_CAP))
    e2e = ctx.bin("mlflowpp_bench_end_to_end")
    py = [ctx.python, ctx.script("python_end_to_end.py")]
    yield "mlflowpp", n, lambda name: benchlib.run_process([e2e, n, name], env=env, cpus=ctx.client_cpu)
    yield "curl floor (prebuilt bodies)", n, None
    if rep > 0:
        return
    yield "python log_batch (1000s)", n, lambda name: benchlib.run_process(py + [n, name, "batch"], env=env,
                                                                               cpus=ctx.client_cpu)
    yield "python async", per_point_n, lambda name: benchlib.run_process(py + [per_point_n, name, "async"],
                                                                             env=env, cpus=ctx.client_cpu)
    buffered = dict(env, MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=2)
    yield "python async, buffering 2 s", n, lambda name: benchlib.run_process(py + [n, name, "async"],
                                                                                  env=buffered, cpus=ctx.client_cpu)
    yield "python sync", per_point_n // 4, lambda name: benchlib.run_process(
        py + [per_point_n // 4, name, "sync"], env=env, cpus=ctx.client_cpu)


def run(ctx):
    n = ctx.scale(100_000, 2_000)
    rows, targets, notes = [], [], []
    for sname in ("sqlite", "pg"):
        server = ctx.servers[sname]
        server.pin("0")
        samples = {}
        for rep in range(ctx.reps):
            for client, count, launch in _client_runs(ctx, server, n, rep):
                tag = f"{sname}-{rep}-{len(samples.get(client, []))}"
                off = server.log_offset()
                if launch is None:
                    run_id, fig, proc = _curl_floor(ctx, server, count, tag)
                else:
                    proc = launch(f"{client}-{tag}")
                    fig = proc.json_lines()[-1]
                    run_id = fig["run_id"]
                reqs = server.requests_since(off)
                pts = server.points(run_id, "loss")
                delivered = sum(len(v) for v in pts.values())
                if delivered != count or any(len(v) != 1 for v in pts.values()):
                    raise RuntimeError(f"{client} on {sname}: {delivered} points read back for {count} logged"
                                       f" ({sum(1 for v in pts.values() if len(v) > 1)} steps twice)")
                if server.errors(reqs):
                    notes.append(f"{client} on {sname}: the server answered errors {server.errors(reqs)}")
                samples.setdefault(client, []).append({
                    "points": count,
                    "wall_s": fig["total_s"],
                    "points_per_s": count / fig["total_s"],
                    "client_cpu_s": proc.cpu_s,
                    "log_batch_requests": server.count(reqs, "/runs/log-batch"),
                    "log_metric_requests": server.count(reqs, "/runs/log-metric"),
                    "requests": sum(reqs.values()),
                })
        med = {c: {k: benchlib.median([s[k] for s in v]) for k in v[0]} for c, v in samples.items()}
        for c, f in med.items():
            f["points"] = int(f["points"])
            rows.append({"client": f"{c} ({sname})", "figures": f})
        cpp, floor, sync = med["mlflowpp"], med["curl floor (prebuilt bodies)"], med["python sync"]
        want = math.ceil(n / 1000)
        targets.append({"what": f"log-batch requests for {n:,} metrics ({sname})", "target": f"exactly {want}",
                        "measured": f"{cpp['log_batch_requests']:g}", "met": cpp["log_batch_requests"] == want})
        r = cpp["wall_s"] / floor["wall_s"]
        targets.append({"what": f"wall vs the curl floor ({sname})", "target": "≤ 1.1×",
                        "measured": f"{r:.2f}× ({cpp['wall_s']:.2f} s vs {floor['wall_s']:.2f} s)",
                        "met": r <= 1.1})
        r = cpp["points_per_s"] / sync["points_per_s"]
        targets.append({"what": f"points/s vs Python sync ({sname})", "target": "≥ 50×", "measured": f"{r:.0f}×",
                        "met": r >= 50})
    cap = min(n, ctx.scale(*PER_POINT_CAP))
    notes.append(f"python async (no buffering) and python sync send one request per point: they ran {cap:,} and "
                 f"{cap // 4:,} points, and their rates are compared. The Python rows ran once; mlflowpp and curl "
                 f"{ctx.reps} times (medians). wall_s runs from the first log call until the last point is on the "
                 "server (mlflowpp: until run.end() returned; curl: the whole curl process). client_cpu_s is "
                 "the whole process, start-up and (for Python) imports included.")
    return {"rows": rows, "targets": targets, "notes": notes}
