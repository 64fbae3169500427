"""Scenario g: scale-out. The PostgreSQL server (4 workers); 8 processes (the ranks of a job)
each log N metric points at once, into 8 runs (one per rank) and into one shared run (a key per
rank), with mlflowpp (bench_rank.cpp) and with the Python client (python_rank.py: log_batch in
chunks of 1000, and its asynchronous logging with buffering).

Measured per phase (all ranks start it together, once their imports are done): total points
per second (ranks x N over the wall time until the last rank has delivered everything), CPU of the server, of PostgreSQL and of the ranks (where the bottleneck is),
the server's answers (503, other errors), PostgreSQL's health (connections in use, sampled
from pg_stat_activity; deadlocks and rolled-back transactions from pg_stat_database; lock
waits) and, read back from the database, that every point landed exactly once.
"""
import json
import os
import tempfile
import threading
import time

import benchlib
import store_check

ID = "g"
TITLE = "scale-out: 8 ranks against PostgreSQL with 4 workers, into 8 runs and into one shared run"

SHAPES = ("8 runs", "1 shared run")


def run(ctx):
    server = ctx.servers["pg"]
    ranks = ctx.scale(8, 2)
    n = ctx.scale(100_000, 1_000)
    n_py = ctx.scale(25_000, 500)
    exp_id = _experiment(server, "bench-scale-out")
    # The whole machine: the server's workers, PostgreSQL and the ranks share every core, and
    # the CPU each used says which one bounds the rate.
    all_cpus = f"0-{(os.cpu_count() or 1) - 1}"
    server.pin(all_cpus)
    try:
        cpp = _phased(ctx, server, exp_id, ranks, [ctx.bin("mlflowpp_bench_rank")], n,
                      [("mlflowpp", None, shape) for shape in SHAPES], {})
        # One Python process per rank goes through all four phases (importing mlflow once).
        py = _phased(ctx, server, exp_id, ranks, [ctx.python, ctx.script("python_rank.py")], n_py,
                     [("python-batch", "batch", shape) for shape in SHAPES]
                     + [("python-async (buffering 1 s)", "async", shape) for shape in SHAPES],
                     {"MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS": 1})
    finally:
        server.pin("0")
    results = {(name, shape): r for name, shape, r in cpp + py}
    rows = [{"client": f"{name}, {shape}", "figures": r} for name, shape, r in cpp + py]

    targets = []
    for shape in SHAPES:
        c, b = results[("mlflowpp", shape)], results[("python-batch", shape)]
        targets.append({
            "what": f"{shape}: total metrics per second, nothing lost (mlflowpp vs Python log_batch)",
            "target": "≥ Python; all points once",
            "measured": f"{c['metrics_per_s']:,.0f}/s vs {b['metrics_per_s']:,.0f}/s "
                        f"({benchlib.ratio(c['metrics_per_s'], b['metrics_per_s']):.2f}x); "
                        f"{c['on_server']:,}/{c['points']:,} points, exactly once: {'yes' if c['exactly_once'] else 'no'}",
            "met": c["exactly_once"] == 1 and c["metrics_per_s"] >= b["metrics_per_s"],
        })
    health = [results[("mlflowpp", s)] for s in SHAPES]
    targets.append({
        "what": "the server's health under mlflowpp",
        "target": "no 503, no deadlock",
        "measured": "; ".join(f"{s}: {h['http_503']} x 503, {h['http_errors']} errors, {h['pg_deadlocks']} deadlocks, "
                              f"≤ {h['pg_connections_max']} connections ({h['pg_active_max']} active)"
                              for s, h in zip(SHAPES, health)),
        "met": all(h["http_503"] == 0 and h["http_errors"] == 0 and h["pg_deadlocks"] == 0 for h in health),
    })
    c8 = results[("mlflowpp", SHAPES[0])]
    cs, a1 = results[("mlflowpp", SHAPES[1])], results[("python-async (buffering 1 s)", SHAPES[1])]
    notes = [
        f"{ranks} ranks; points per rank: mlflowpp {n:,}, Python {n_py:,} (rates per second compare). Each "
        "rank is one process that goes through its phases (mlflowpp: 8 runs, then 1 shared run; Python: "
        "log_batch, then async, each into 8 runs and 1 shared run); every phase starts when all ranks are "
        "ready (imports done) and its wall time ends when the last rank has delivered everything. Ranks, "
        f"server and PostgreSQL are unpinned ({all_cpus}) on {os.cpu_count()} cores: cpu_share_* are CPU "
        "seconds over (cores x wall), so their sum near 1.0 means the machine is saturated.",
        _bottleneck(c8, "mlflowpp, 8 runs"),
        "python-async: MlflowClient.log_metric(..., synchronous=False) with "
        "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=1 (without it, it sends one request per point: scenario d), "
        "then flush_async_logging(); its queue sends merged batches of < 1000 from a pool of 10 threads, so "
        "up to 10 requests of one process are in flight at once into the same run. python-batch: "
        "MlflowClient.log_batch of 1000 points at a time, one request in flight. mlflowpp: one sender "
        "thread per process, one request in flight, batches of 1000 on a kept-alive connection.",
        f"In flight, 1 shared run: mlflowpp kept {cs['http_connections_max']} connections to the server "
        f"({ranks} ranks) and the database showed at most {cs['pg_active_max']} queries running and "
        f"{cs['pg_lock_waits_max']} waiting on a lock; Python async kept {a1['http_connections_max']}, with "
        f"{a1['pg_active_max']} running, {a1['pg_lock_waits_max']} waiting on locks (the run's latest-metrics "
        f"rows) and {a1['pg_connections_max']} database connections open (each worker's SQLAlchemy pool "
        "keeps 5 and opens up to 10 more under load).",
        "http_connections_max: most TCP connections to the tracking server open at once (all ranks; "
        "/proc/net/tcp every 0.1 s). pg_connections_max: most connections to the mlflow database at once in pg_stat_activity "
        "(sampled every 0.1 s; the sampler's own excluded); pg_active_max: most of them running a query; "
        "pg_lock_waits_max: most waiting on a lock; pg_deadlocks, pg_rollbacks: pg_stat_database's "
        "counters over the phase; log_deadlock_lines: lines of the server's log naming a deadlock.",
        "Read back: each (run, key) counted in the server's PostgreSQL database (points, distinct steps "
        "0..N-1, values as logged), and each run's latest step per key through REST runs/get.",
    ]
    return {"rows": rows, "targets": targets, "notes": notes}


def _bottleneck(f, what):
    """Which side's CPU bounds the rate, with the figures."""
    cores = os.cpu_count() or 1
    costs = {"the server": f["server_cpu_s_per_1000"], "PostgreSQL": f["pg_cpu_s_per_1000"],
             "the ranks": f["client_cpu_s_per_1000"]}
    worst = max(costs, key=costs.get)
    ceiling = cores * 1000 / max(sum(costs.values()), 1e-9)
    busy = f["cpu_share_server"] + f["cpu_share_postgres"] + f["cpu_share_ranks"]
    return (f"Where the bottleneck is ({what}): per 1000 points the server used {costs['the server']:.3f} CPU s, "
            f"PostgreSQL {costs['PostgreSQL']:.3f}, the ranks {costs['the ranks']:.3f}: {worst} costs most. At "
            f"these costs {cores} cores take at most about {ceiling:,.0f} points/s; measured {f['metrics_per_s']:,.0f} "
            f"({f['metrics_per_s'] / ceiling:.0%}), with the three using {busy:.0%} of the machine"
            + (" (the rest went to other processes or waiting: a busy machine, or commits waiting on the disk)."
               if busy < 0.8 else ": CPU-bound."))


def _phased(ctx, server, exp_id, ranks, argv, n, phases, env):
    """Start `ranks` processes that go through `phases` [(name, mode, shape)] together; returns
    [(name, shape, figures)]."""
    ctl = tempfile.mkdtemp(prefix="ranks-", dir=ctx.work_dir)
    plan = []  # per phase: (runs per rank, keys per rank)
    for name, _, shape in phases:
        tag = name.split(" ")[0]
        if shape == SHAPES[0]:
            plan.append(([_create_run(server, exp_id, f"{tag}-rank{r}") for r in range(ranks)], ["loss"] * ranks))
        else:
            plan.append(([_create_run(server, exp_id, f"{tag}-shared")] * ranks,
                         [f"rank{r}/loss" for r in range(ranks)]))
    full_env = {"MLFLOW_TRACKING_URI": server.uri,
                "MLFLOWPP_SPOOL_DIR": tempfile.mkdtemp(prefix="spool-", dir=ctx.work_dir)}
    full_env.update(env)
    handles = []
    for r in range(ranks):
        args = list(argv) + [ctl, r, n]
        for (_, mode, _), (runs, keys) in zip(phases, plan):
            args += ([mode] if mode else []) + [runs[r], keys[r]]
        handles.append(benchlib.start_process(args, env=full_env))
    out = []
    try:
        with _PgSampler(server) as sampler:
            for i, ((name, _, shape), (runs, keys)) in enumerate(zip(phases, plan)):
                _wait_files(ctl, [f"ready.{i}.{r}" for r in range(ranks)], handles, 300)
                out.append((name, shape, _phase(ctl, i, server, sampler, handles, runs, keys, n)))
                print(f"    {name}, {shape}: {out[-1][2]['points']:,} points in {out[-1][2]['wall_s']} s", flush=True)
        for h in handles:
            _reap(h)
    finally:
        for h in handles:
            if h["p"].poll() is None:
                h["p"].kill()
                h["p"].wait()
    return out


def _wait_files(ctl, names, handles, limit_s):
    """Wait until every file exists; the time the last one appeared."""
    until = time.monotonic() + limit_s
    while not all(os.path.exists(os.path.join(ctl, f)) for f in names):
        for h in handles:
            if "proc" not in h and _exited(h):
                _reap(h)  # raises with its output if it failed
        if time.monotonic() > until:
            raise RuntimeError(f"not all of {names[0]}... within {limit_s} s")
        time.sleep(0.005)
    return time.perf_counter()


def _exited(h):
    """Has the process ended? (Without reaping it: wait_process measures it.)"""
    return os.waitid(os.P_PID, h["p"].pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _reap(h):
    if "proc" not in h:
        h["proc"] = benchlib.wait_process(h, timeout=120)


def _experiment(server, name):
    try:
        return server.rest("GET", "2.0/mlflow/experiments/get-by-name?experiment_name=" + name)["experiment"][
            "experiment_id"]
    except Exception:
        return server.rest("POST", "2.0/mlflow/experiments/create", {"name": name})["experiment_id"]


def _create_run(server, exp_id, name):
    body = {"experiment_id": exp_id, "run_name": name, "start_time": int(time.time() * 1000)}
    return server.rest("POST", "2.0/mlflow/runs/create", body)["run"]["info"]["run_id"]


class _PgSampler:
    """Samples pg_stat_activity for the mlflow database every 0.1 s in a thread."""

    SQL = ("SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'active'), "
           "COUNT(*) FILTER (WHERE wait_event_type = 'Lock') "
           "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")

    def __init__(self, server):
        self.conn = store_check.pg_connect(server)
        self.port = int(server.uri.rsplit(":", 1)[1].split("/")[0])
        self.max = [0, 0, 0, 0]
        self.lock = threading.Lock()  # one connection: one query at a time
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self.stop.is_set():
            with self.lock:
                row = list(self.conn.execute(self.SQL).fetchone()) + [self._http_connections()]
                self.max = [max(a, int(b)) for a, b in zip(self.max, row)]
            self.stop.wait(0.1)

    def reset(self):
        """The peaks since the last reset; starts again from zero."""
        with self.lock:
            peaks, self.max = self.max, [0, 0, 0, 0]
        return peaks

    def _http_connections(self):
        """Established TCP connections to the tracking server's port (from the clients' side)."""
        n = 0
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == self.port:
                    n += 1
        return n

    def stats(self):
        with self.lock:
            row = self.conn.execute(
                "SELECT deadlocks, xact_rollback, xact_commit FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()
        return {"deadlocks": int(row[0]), "rollbacks": int(row[1]), "commits": int(row[2])}

    def cpu_seconds(self):
        """CPU of the postmaster and its children, live and exited (cutime/cstime)."""
        with self.lock:
            data_dir = self.conn.execute("SHOW data_directory").fetchone()[0]
        with open(os.path.join(data_dir, "postmaster.pid")) as f:
            master = int(f.readline())
        tick = os.sysconf("SC_CLK_TCK")

        def fields(pid):
            return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()

        f = fields(master)
        total = sum(int(x) for x in f[11:15])  # utime, stime, cutime, cstime
        for d in os.listdir("/proc"):
            if d.isdigit() and int(d) != master:
                try:
                    g = fields(d)
                    if int(g[1]) == master:  # ppid
                        total += int(g[11]) + int(g[12])
                except (OSError, IndexError, ValueError):
                    pass
        return total / tick

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.conn.close()


def _phase(ctl, i, server, sampler, handles, runs, keys, n):
    ranks = len(handles)
    offset = server.log_offset()
    before = sampler.stats()
    server_cpu0, pg_cpu0 = server.cpu_seconds(), sampler.cpu_seconds()
    sampler.reset()
    t0 = time.perf_counter()
    open(os.path.join(ctl, f"go.{i}"), "w").close()
    done = [f"done.{i}.{r}.json" for r in range(ranks)]
    wall = _wait_files(ctl, done, handles, 900) - t0
    server_cpu, pg_cpu = server.cpu_seconds() - server_cpu0, sampler.cpu_seconds() - pg_cpu0
    peaks = sampler.reset()
    counts = server.requests_since(offset)
    with open(os.path.join(server.dir, "server.log"), "rb") as f:
        f.seek(offset)
        log_deadlocks = sum(1 for line in f if b"deadlock" in line.lower())
    results = []
    for name in done:
        with open(os.path.join(ctl, name)) as f:
            results.append(json.load(f))
    total = n * ranks
    client_cpu = sum(x["cpu_s"] for x in results)
    cores = os.cpu_count() or 1
    # Read back: every (run, key) from the database, and each run's latest step per key through REST.
    found = store_check.db_history_counts(server, set(runs))
    on_server, exact = 0, True
    for r in range(ranks):
        points, distinct, lo, hi, bad = found.get((runs[r], keys[r]), (0, 0, 0, -1, 0))
        on_server += points
        exact = exact and points == n and distinct == n and lo == 0 and hi == n - 1 and bad == 0
    for run_id in set(runs):
        latest = store_check.latest_steps(server, run_id)
        exact = exact and all(latest.get(k) == n - 1 for r, k in enumerate(keys) if runs[r] == run_id)
    after = sampler.stats()  # after the read-back: PostgreSQL publishes its counters within a second
    errors = server.errors(counts)
    return {
        "points": total,
        "wall_s": round(wall, 2),
        "metrics_per_s": round(total / wall),
        "rank_log_s_median": round(benchlib.median([x["log_s"] for x in results]), 3),
        "log_batch_requests": server.count(counts, "/runs/log-batch"),
        "http_503": sum(v for k, v in errors.items() if k.endswith(" 503")),
        "http_errors": sum(errors.values()),
        "client_errors": sum(x.get("errors", 0) + x.get("dropped", 0) for x in results),
        "server_cpu_s_per_1000": round(server_cpu / total * 1000, 4),
        "pg_cpu_s_per_1000": round(pg_cpu / total * 1000, 4),
        "client_cpu_s_per_1000": round(client_cpu / total * 1000, 4),
        "cpu_share_server": round(server_cpu / (cores * wall), 2),
        "cpu_share_postgres": round(pg_cpu / (cores * wall), 2),
        "cpu_share_ranks": round(client_cpu / (cores * wall), 2),
        "http_connections_max": peaks[3],
        "pg_connections_max": peaks[0],
        "pg_active_max": peaks[1],
        "pg_lock_waits_max": peaks[2],
        "pg_deadlocks": after["deadlocks"] - before["deadlocks"],
        "pg_rollbacks": after["rollbacks"] - before["rollbacks"],
        "log_deadlock_lines": log_deadlocks,
        "on_server": on_server,
        "exactly_once": 1 if exact else 0,
    }
