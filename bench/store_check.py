"""Reading logged points back, for scenarios d and g (bench/scenarios/d_outage.py,
g_scale_out.py): through REST (get-history in pages, runs/get), and, for histories too long to
read through REST within a scenario's time (1,000,000 points take the server about two minutes,
paged or not), from the tracking server's own database: the SQLite file or PostgreSQL that
`mlflow server` writes, whose `metrics` table is what every read answers from.
"""
import os
import sqlite3
import urllib.parse

REST_PAGE = 50000  # points per get-history page


def backend_uri(server):
    """The server's --backend-store-uri (scripts/lib.sh writes it to <dir>/backend)."""
    with open(os.path.join(server.dir, "backend")) as f:
        return f.read().strip()


def pg_connect(server):
    """An autocommit connection to a postgresql:// server's database (psycopg, in the venv)."""
    import psycopg

    return psycopg.connect(backend_uri(server), autocommit=True)


def db_history_counts(server, run_ids):
    """{(run_id, key): (points, distinct steps, min step, max step, values != 1/(step+1))} for
    the given runs, straight from the server's metrics table."""
    sql = (
        "SELECT run_uuid, key, COUNT(*), COUNT(DISTINCT step), MIN(step), MAX(step), "
        "SUM(CASE WHEN ABS(value - 1.0 / (step + 1)) > 1e-12 THEN 1 ELSE 0 END) "
        "FROM metrics WHERE run_uuid IN ({}) GROUP BY run_uuid, key"
    )
    uri = backend_uri(server)
    run_ids = list(run_ids)
    if uri.startswith("sqlite:///"):
        conn = sqlite3.connect(f"file:{uri[len('sqlite:///'):]}?mode=ro", uri=True, timeout=60)
        try:
            rows = conn.execute(sql.format(",".join("?" * len(run_ids))), run_ids).fetchall()
        finally:
            conn.close()
    else:
        with pg_connect(server) as conn:
            rows = conn.execute(sql.format(",".join(["%s"] * len(run_ids))), run_ids).fetchall()
    return {(r[0], r[1]): tuple(int(x or 0) for x in r[2:]) for r in rows}


def rest_history(server, run_id, key, page=REST_PAGE, pages=None):
    """(steps, wrong values) of a metric's history read through REST get-history, page by
    page (`pages` of them at most; None: all)."""
    steps, bad, token, n = [], 0, "", 0
    while pages is None or n < pages:
        q = {"run_id": run_id, "metric_key": key, "max_results": page}
        if token:
            q["page_token"] = token
        answer = server.rest("GET", "2.0/mlflow/metrics/get-history?" + urllib.parse.urlencode(q), timeout=600)
        n += 1
        for m in answer.get("metrics", []):
            s = int(m.get("step", 0))
            steps.append(s)
            if abs(float(m["value"]) - 1.0 / (s + 1)) > 1e-12:
                bad += 1
        token = answer.get("next_page_token", "")
        if not token:
            break
    return steps, bad


def latest_steps(server, run_id):
    """{key: step} of a run's latest metrics, through REST runs/get."""
    run = server.rest("GET", "2.0/mlflow/runs/get?" + urllib.parse.urlencode({"run_id": run_id}))["run"]
    return {m["key"]: int(m.get("step", 0)) for m in run.get("data", {}).get("metrics", [])}


def check_history(server, run_id, key, n, rest_limit=REST_PAGE):
    """Is the history exactly steps 0..n-1 once each, with the values logged? Up to
    `rest_limit` points through REST, in full; beyond, from the database, with REST checks
    of the first page (1000 points) and of the run's latest metric. Returns a dict."""
    if n <= rest_limit:
        steps, bad = rest_history(server, run_id, key)
        distinct = len(set(steps))
        exact = len(steps) == n and distinct == n and min(steps, default=0) == 0 and max(steps, default=-1) == n - 1
        return {"on_server": len(steps), "distinct_steps": distinct, "wrong_values": bad,
                "exact": exact and bad == 0, "how": "REST"}
    points, distinct, lo, hi, bad = db_history_counts(server, [run_id]).get((run_id, key), (0, 0, 0, -1, 0))
    first, first_bad = rest_history(server, run_id, key, page=1000, pages=1)
    rest_ok = first == list(range(min(n, 1000))) and first_bad == 0 and latest_steps(server, run_id).get(key) == n - 1
    exact = points == n and distinct == n and lo == 0 and hi == n - 1 and bad == 0 and rest_ok
    return {"on_server": points, "distinct_steps": distinct, "wrong_values": bad, "exact": exact,
            "how": "database" + ("" if rest_ok else "; REST spot check failed")}
