"""Scenario d: 1,000,000 metrics logged while the server is stopped, then delivered when it
returns, side by side with the Python client's asynchronous logging.

Each client's program (bench_outage.cpp, python_outage.py) starts its run while the SQLite
server (1 worker) is up; this module stops the server, the program logs N points, this module
measures its memory growth per queued point (and, for mlflowpp, the spool journal's bytes on
disk per point), restarts the server, the program waits for delivery, and this module reads the
history back (store_check.py) to check exactly N points, steps 0..N-1 once each.
"""
import json
import os
import tempfile
import time

import benchlib
import store_check

ID = "d"
TITLE = "1,000,000 metrics logged while the server is stopped, then delivered when it returns"

BYTES_PER_METRIC_TARGET = 64
SMALL_QUEUE = 20000


def run(ctx):
    server = ctx.servers["sqlite"]
    server.pin("0")
    n_cpp = ctx.scale(1_000_000, 10_000)
    # The Python queue keeps every point as Python objects in memory and by default sends each
    # point as its own request: smaller N keep the scenario within its time (the figures asked
    # for are per queued point).
    n_py = ctx.scale(2_000, 100)
    n_py_buf = ctx.scale(20_000, 1_000)
    py_deadline = ctx.scale(300, 120)
    cpp = [ctx.bin("mlflowpp_bench_outage")]
    py = [ctx.python, ctx.script("python_outage.py")]
    main = {"argv": cpp, "n": n_cpp}
    # The same program with a smaller queue, in the same outage, for its memory only: it is
    # stopped before the server returns (its journal is thrown away).
    small = {"argv": cpp, "n": n_cpp, "env": {"MLFLOWPP_ASYNC_QUEUE_CAPACITY": SMALL_QUEUE}, "memory_only": True,
             "label": f"mlflowpp, queue of {SMALL_QUEUE:,} (memory only)"}
    py_default = {"argv": py, "n": n_py, "extra": [py_deadline]}
    py_buf = {"argv": py, "n": n_py_buf, "extra": [py_deadline],
              "env": {"MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS": 1}}
    # Full size: one outage per delivering client, so that each delivery has the server to
    # itself. --quick: one outage for all (the figures mean nothing; the time does).
    groups = [[main, small, py_default, py_buf]] if ctx.quick else [[main, small], [py_default], [py_buf]]
    results = {}
    for group in groups:
        for c, r in zip(group, _outage(ctx, server, group)):
            results[id(c)] = r
    ordered = [results[id(c)] for c in (main, small, py_default, py_buf)]
    rows = [{"client": r["client"], "figures": r["figures"]} for r in ordered]

    c = results[id(main)]["figures"]
    s = results[id(small)]["figures"]
    targets = [{
        "what": "memory per queued metric (mlflowpp; RSS growth once all are queued)",
        "target": f"≤ {BYTES_PER_METRIC_TARGET} B",
        "measured": f"{c['rss_growth_b_per_metric']:.1f} B (peak {c['peak_growth_b_per_metric']:.1f} B, "
                    f"second half {c['marginal_b_per_metric']:.1f} B; spool {c['spool_b_per_metric']:.1f} B "
                    f"on disk) for {n_cpp:,} points",
        "met": c["rss_growth_b_per_metric"] <= BYTES_PER_METRIC_TARGET,
    }, {
        "what": "all delivered, exactly once (mlflowpp)",
        "target": f"{n_cpp:,} points, steps 0..{n_cpp - 1:,} once each",
        "measured": f"{c['on_server']:,} points, {c['distinct_steps']:,} distinct steps, "
                    f"{c['wrong_values']} wrong values, {c['requests_sent']:,} requests sent",
        "met": bool(results[id(main)]["exact"]),
    }]
    for r in (results[id(py_default)], results[id(py_buf)]):
        f = r["figures"]
        targets.append({
            "what": f"{r['client']}: memory per queued metric; all delivered once",
            "target": f"≤ {BYTES_PER_METRIC_TARGET} B; {f['points']:,} points once each",
            "measured": f"{f['rss_growth_b_per_metric']:,.0f} B; {f['on_server']:,} points, "
                        f"{f['distinct_steps']:,} distinct steps, {f['errors']} error(s)"
                        + ("" if f["flushed"] else f", not flushed within {py_deadline} s"),
            "met": f["rss_growth_b_per_metric"] <= BYTES_PER_METRIC_TARGET and bool(r["exact"]),
        })
    notes = [
        "rss_growth_b_per_metric: VmRSS once every point is queued minus before logging, over N (mlflowpp: "
        "once every point is written ahead to the spool journal); peak_ uses VmHWM; marginal_ is the "
        "growth over the second half of the points. mlflowpp's memory does not grow with N: a fixed "
        f"amount (about {c['rss_growth_b_per_metric'] * n_cpp / 2**20:.0f} MiB here) is its second queue "
        "buffer and one round of batching (up to the queue's capacity of items at once, 100,000 by "
        "default) and up to 16 MiB of request bodies; everything else is only in the journal on disk "
        f"(spool_b_per_metric). With MLFLOWPP_ASYNC_QUEUE_CAPACITY={SMALL_QUEUE:,} that fixed amount is "
        f"{s['rss_growth_b_per_metric'] * n_cpp / 2**20:.0f} MiB ({s['rss_growth_b_per_metric']:.1f} B per point "
        f"for {n_cpp:,}).",
        f"Python: mlflow.log_metric(..., synchronous=False), N={n_py:,} with its defaults (one request per "
        f"point) and N={n_py_buf:,} with MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=1 (its queue merges what "
        f"it holds into batches of < 1000), beside mlflowpp's N={n_cpp:,}. Its queue holds every point as "
        "Python objects in memory and has no spool: a process that exits or dies during the outage loses "
        "them. Its workers retry each batch with the HTTP policy (7 retries, waits up to 120 s, about "
        "4 min in all) and then give it up (logged as an error): a longer outage loses data.",
        "Both clients retry on the Python client's schedule (waits 0, 4, 8, 16, 32, 64, 120 s), so the "
        "first delivery after the server returns waits for the retry in progress: "
        "first_delivery_after_back_s (mlflowpp); drain_s is the delivery itself, deliver_s both.",
        "Exactly once: histories of up to 50,000 points are read back whole through REST get-history "
        "(paged); the 1,000,000-point one from the server's SQLite file (count, distinct steps, values), "
        "with REST checks of its first page and of runs/get's latest step: reading 1,000,000 points "
        "through REST takes this server about two minutes (get-history pages re-sort the whole history). "
        "log_batch_requests counts the server's answers to runs/log-batch; server_cpu_s_per_1000 is the "
        "server's CPU from its restart to the end of delivery, per 1000 points.",
    ]
    pd = results[id(py_default)]["figures"]
    if "server_cpu_s_per_1000" in pd:
        notes.append(
            f"With its defaults the Python queue sent {pd['log_batch_requests']:,} requests for {n_py:,} points, "
            f"and the server spent {pd['server_cpu_s_per_1000']:.2f} CPU s per 1000 points on them, against "
            f"{c['server_cpu_s_per_1000']:.3f} for mlflowpp's {c['log_batch_requests']:,} requests of up to 1000 "
            f"points ({benchlib.ratio(pd['server_cpu_s_per_1000'], c['server_cpu_s_per_1000']):.0f}x). mlflowpp's "
            "queue sends whole batches of 1000 (a run's start and end travel apart).")
    if ctx.quick:
        notes.append("--quick: all clients share one outage, so the server-side figures are left out.")
    return {"rows": rows, "targets": targets, "notes": notes}


def _wait_for(path, h, limit_s):
    until = time.monotonic() + limit_s
    while not os.path.exists(path):
        if os.waitid(os.P_PID, h["p"].pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            benchlib.wait_process(h)  # raises with its output (without reaping it first)
            raise RuntimeError(f"{h['argv']} ended before writing {path}")
        if time.monotonic() > until:
            h["p"].kill()
            raise RuntimeError(f"{h['argv']}: no {path} within {limit_s} s")
        time.sleep(0.01)
    with open(path) as f:
        return json.load(f)


def _touch(path):
    open(path, "w").close()


def _dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def _outage(ctx, server, clients):
    """Start every client, stop the server, let each log in turn, restart it, wait for delivery."""
    handles = []
    cpu0 = None
    try:
        for c in clients:
            ctl = tempfile.mkdtemp(prefix="outage-", dir=ctx.work_dir)
            spool = tempfile.mkdtemp(prefix="spool-", dir=ctx.work_dir)
            env = {"MLFLOW_TRACKING_URI": server.uri, "MLFLOWPP_SPOOL_DIR": spool}
            env.update(c.get("env", {}))
            argv = list(c["argv"]) + [ctl, c["n"]] + list(c.get("extra", []))
            handles.append({"c": c, "h": benchlib.start_process(argv, env=env, cpus=ctx.client_cpu),
                            "ctl": ctl, "spool": spool})
        for x in handles:
            x["run_id"] = _wait_for(os.path.join(x["ctl"], "started.json"), x["h"], 120)["run_id"]
        server.stop()
        for x in handles:  # one at a time: each logs with the client core to itself
            _touch(os.path.join(x["ctl"], "go"))
            x["logged"] = _wait_for(os.path.join(x["ctl"], "logged.json"), x["h"], 600)
            x["spool_bytes"] = _dir_bytes(x["spool"])
            if x["c"].get("memory_only"):
                x["h"]["p"].kill()
                x["proc"] = benchlib.wait_process(x["h"], check=False)
        server.restart()  # a new server.log: its requests are counted from offset 0
        server.pin("0")
        cpu0 = server.cpu_seconds()
        for x in handles:
            _touch(os.path.join(x["ctl"], "back"))
        for x in handles:
            if "proc" not in x:
                x["proc"] = benchlib.wait_process(x["h"], timeout=900, check=False)
    finally:
        for x in handles:
            if x["h"]["p"].poll() is None:
                x["h"]["p"].kill()
        server.restart()  # never leave the server down for the next scenario
    server_cpu = server.cpu_seconds() - cpu0
    counts = server.requests_since(0)
    delivering = [x for x in handles if not x["c"].get("memory_only")]
    alone = len(delivering) == 1
    return [_figures(x, server, counts, server_cpu if alone else None) for x in handles]


def _figures(x, server, counts, server_cpu):
    c, n, logged, proc = x["c"], x["c"]["n"], x["logged"], x["proc"]
    figures = {
        "points": n,
        "log_s": round(logged["log_s"], 3),
        "rss_growth_b_per_metric": round((logged["rss_after_kib"] - logged["rss_before_kib"]) * 1024 / n, 1),
        "peak_growth_b_per_metric": round((logged["hwm_kib"] - logged["rss_before_kib"]) * 1024 / n, 1),
    }
    if "rss_half_kib" in logged:
        second = n - n // 2
        figures["marginal_b_per_metric"] = round((logged["rss_after_kib"] - logged["rss_half_kib"]) * 1024 / second, 1)
        figures["spool_b_per_metric"] = round(x["spool_bytes"] / n, 1)
    if c.get("memory_only"):
        return {"client": c["label"], "figures": figures, "exact": None}
    lines = proc.json_lines()
    if not lines:
        proc.check()
        raise RuntimeError(f"{proc.argv}: no result line\n{proc.stderr[-2000:]}")
    final = lines[-1]
    if final["client"] == "mlflowpp":
        figures["first_delivery_after_back_s"] = round(final["first_delivery_after_back_s"], 2)
        figures["drain_s"] = round(final["drain_s"], 2)
        figures["drain_metrics_per_s"] = round(n / final["drain_s"]) if final["drain_s"] > 0 else 0
        figures["requests_sent"] = final["requests"]
    else:
        figures["flushed"] = final["flushed"]
        figures["errors"] = final["errors"]
    figures["deliver_s"] = round(final["deliver_s"], 2)
    figures["client_cpu_s"] = round(proc.cpu_s, 2)
    if server_cpu is not None:
        figures["server_cpu_s_per_1000"] = round(server_cpu / n * 1000, 4)
        figures["log_batch_requests"] = server.count(counts, "/runs/log-batch")
        figures["http_errors"] = sum(server.errors(counts).values())
    check = store_check.check_history(server, x["run_id"], "loss", n)
    figures["on_server"] = check["on_server"]
    figures["distinct_steps"] = check["distinct_steps"]
    figures["wrong_values"] = check["wrong_values"]
    figures["exactly_once"] = 1 if check["exact"] else 0
    return {"client": final["client"], "figures": figures, "exact": check["exact"]}
