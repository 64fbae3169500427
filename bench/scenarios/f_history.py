"""Scenario f: reading a 100,000-point metric history (GET /mlflow/metrics/get-history).

Once per server, bench_history.cpp logs 100,000 points of "loss" (steps 0..99,999) in a new
run through mlflowpp's asynchronous logger. Each repetition then reads the whole history with
three readers, in rotating order, each a process on core 1 with the server on core 0:

  mlflowpp         Client::get_metric_history (bench_history.cpp read): 25,000 points per
                   request, like the Python client, parsed into std::vector<Metric>.
  curl + simdjson  the floor: one curl process fetching the same pages (same URLs, same
                   max_results, the tokens known in advance) over one kept-alive connection,
                   each body to a file; its time is the sum of curl's time_total of the
                   transfers (the first time, the tokens are not known yet: one curl per
                   page, the next token read from each body untimed). Plus the time
                   bench_history.cpp parse takes to parse those bodies (read into memory
                   untimed) with simdjson into the same std::vector<Metric> the client
                   returns: the fastest JSON parse at hand, the one mlflowpp uses.
  python           MlflowClient().get_metric_history (bench/python_history.py).

Each reader's time starts after its process is up and (for the clients) after one untimed
request. Every reader (the official Python client among them) must return exactly the points
logged, steps 0..N-1: that confirms the delivery. Requests are counted from the server's
access log.
"""
import json
import os
import urllib.parse

from benchlib import median, ratio, run_process

ID = "f"
TITLE = "reading a 100,000-point metric history"
KEY = "loss"
PAGE = 25000  # what mlflowpp and the Python client ask for per request
HISTORY = "/metrics/get-history"


def _url(server, run_id, token):
    q = {"run_id": run_id, "metric_key": KEY, "max_results": PAGE}
    if token:
        q["page_token"] = token
    return f"{server.uri}/api/2.0/mlflow/metrics/get-history?{urllib.parse.urlencode(q)}"


def _check(what, j, points):
    if j["points"] != points or not j["steps_ok"]:
        raise RuntimeError(f"{what} read {j['points']} points (steps exactly 0..{points - 1}: {j['steps_ok']})")


def _requests(server, offset):
    counts = server.requests_since(offset)
    errors = server.errors(counts)
    if errors:
        raise RuntimeError(f"server errors: {errors}")
    return server.count(counts, HISTORY, method="GET")


def _read_mlflowpp(ctx, server, run_id, points, env):
    off = server.log_offset()
    p = run_process([ctx.bin("mlflowpp_bench_history"), "read", run_id, KEY, points], env=env, cpus=ctx.client_cpu)
    j = p.json_lines()[-1]
    _check("mlflowpp", j, points)
    return {"seconds": j["seconds"], "cpu_s": j["cpu_s"], "requests": _requests(server, off)}


def _curl(ctx, pages):
    """One curl process fetching [(url, file)] in order over one kept-alive connection: the
    sum of the transfers' time_total, the connections opened, curl's CPU."""
    argv = ["curl", "-sS", "--fail", "--compressed", "-w", "%{time_total} %{num_connects}\\n"]
    for url, f in pages:
        argv += ["-o", f, url]
    p = run_process(argv, cpus=ctx.client_cpu)
    transfers = [line.split() for line in p.stdout.splitlines() if line.strip()]
    return sum(float(t[0]) for t in transfers), sum(int(t[1]) for t in transfers), p.cpu_s


def _read_curl(ctx, server, run_id, urls, points, tag):
    """The floor. The first time (urls empty) the page tokens are not known yet: one curl per
    page, the next token read from the body between them (untimed), which costs a connection
    per page (a fraction of a millisecond on loopback); afterwards one curl for all pages."""
    off = server.log_offset()
    files = []
    curl_s, connects, cpu_s = 0.0, 0, 0.0
    if urls:
        files = [os.path.join(ctx.work_dir, f"history-{tag}-{i}.json") for i in range(len(urls))]
        curl_s, connects, cpu_s = _curl(ctx, list(zip(urls, files)))
    else:
        token = ""
        while True:
            urls.append(_url(server, run_id, token))
            files.append(os.path.join(ctx.work_dir, f"history-{tag}-{len(files)}.json"))
            s, n, c = _curl(ctx, [(urls[-1], files[-1])])
            curl_s, connects, cpu_s = curl_s + s, connects + n, cpu_s + c
            with open(files[-1]) as f:
                token = json.load(f).get("next_page_token", "")
            if not token:
                break
    requests = _requests(server, off)
    q = run_process([ctx.bin("mlflowpp_bench_history"), "parse", points] + files, cpus=ctx.client_cpu)
    j = q.json_lines()[-1]
    _check("curl + simdjson", j, points)
    for f in files:
        os.remove(f)
    return {
        "seconds": curl_s + j["seconds"], "curl_s": curl_s, "parse_s": j["seconds"], "cpu_s": cpu_s + j["seconds"],
        "requests": requests, "connections": connects, "body_mib": j["bytes"] / 2**20,
    }


def _read_python(ctx, server, run_id, points, env):
    off = server.log_offset()
    p = run_process([ctx.python, ctx.script("python_history.py"), run_id, KEY, points], env=env, cpus=ctx.client_cpu)
    j = p.json_lines()[-1]
    _check("python", j, points)
    return {"seconds": j["seconds"], "cpu_s": j["cpu_s"], "requests": _requests(server, off)}


def _server(ctx, name, points):
    server = ctx.servers[name]
    env = {"MLFLOW_TRACKING_URI": server.uri}
    p = run_process([ctx.bin("mlflowpp_bench_history"), "log", points], env=env, cpus=ctx.client_cpu)
    run_id = p.json_lines()[-1]["run_id"]
    server.pin("0")  # after the setup, which the server's workers do faster on both cores
    urls = []  # the page URLs: the curl reader finds them the first time
    readers = {
        "mlflowpp": lambda rep: _read_mlflowpp(ctx, server, run_id, points, env),
        "curl + simdjson": lambda rep: _read_curl(ctx, server, run_id, urls, points, f"{name}-{rep}"),
        "python": lambda rep: _read_python(ctx, server, run_id, points, env),
    }
    order = list(readers)
    results = {r: [] for r in readers}
    for rep in range(ctx.reps):
        for r in order[rep % 3:] + order[:rep % 3]:
            results[r].append(readers[r](rep))
    rows = []
    for r, reps in results.items():
        figures = {"points": points}
        for k in reps[0]:
            values = [x[k] for x in reps]
            figures[k] = median(values) if isinstance(values[0], float) else int(median(values))
        rows.append({"client": f"{r} ({name})", "figures": figures})
    return rows, len(urls), run_id


def run(ctx):
    points = ctx.scale(100_000, 2_000)
    names = ["sqlite", "pg"] if not ctx.quick else ["sqlite"]
    rows, targets, notes = [], [], []
    try:
        for name in names:
            server_rows, pages, _ = _server(ctx, name, points)
            rows += server_rows
            f = {r["client"].split(" (")[0]: r["figures"] for r in server_rows}
            cpp, floor, py = f["mlflowpp"], f["curl + simdjson"], f["python"]
            for who, fig in f.items():
                if fig["requests"] != pages:
                    raise RuntimeError(f"{who} made {fig['requests']} get-history requests, not {pages}")
            vs_curl = ratio(cpp["seconds"], floor["seconds"])
            vs_py = ratio(py["seconds"], cpp["seconds"])
            targets.append({"what": f"{name}: mlflowpp time / (curl + parsing)", "target": "≤ 1.05×",
                            "measured": f"{vs_curl:.3f}× ({cpp['seconds']:.3f} s vs {floor['seconds']:.3f} s)",
                            "met": vs_curl <= 1.05})
            targets.append({"what": f"{name}: Python time / mlflowpp time", "target": "≥ 10×",
                            "measured": f"{vs_py:.2f}× ({py['seconds']:.3f} s vs {cpp['seconds']:.3f} s)",
                            "met": vs_py >= 10})
            cpu_py = ratio(py["cpu_s"], cpp["cpu_s"])
            targets.append({"what": f"{name}: Python client CPU / mlflowpp client CPU", "target": "≥ 10×",
                            "measured": f"{cpu_py:.1f}× ({py['cpu_s']:.3f} s vs {cpp['cpu_s']:.3f} s)",
                            "met": cpu_py >= 10})
            notes.append(
                f"{name}: {pages} request(s) of ≤ {PAGE:,} points for every reader, {floor['body_mib']:.1f} MiB of "
                f"JSON. The server bounds the wall times: curl alone waits {floor['curl_s']:.3f} s of the floor's "
                f"{floor['seconds']:.3f} s (parsing: {floor['parse_s'] * 1000:.1f} ms), so even a client taking no "
                f"time at all would be only {ratio(py['seconds'], floor['curl_s']):.2f}× faster than Python here; "
                "the client's own cost is its CPU time (in-process, the call only), where the ≥ 10× is measured. "
                f"mlflowpp's CPU {cpp['cpu_s'] * 1000:.0f} ms against the floor's {floor['cpu_s'] * 1000:.0f} ms "
                "(curl's process, its start included, plus the parse)."
            )
    finally:
        for name in names:
            ctx.servers[name].pin(f"0-{(os.cpu_count() or 1) - 1}")
    notes.append(
        f"{points:,} points of '{KEY}' logged once per server by bench_history.cpp (mlflowpp's asynchronous "
        "logger); every reader, the official Python client among them, returned exactly those points (steps "
        "0..N-1), each in the number of requests shown (counted in the server's access log). 'curl + simdjson' "
        "is the floor: curl's own transfer time (sum of time_total) for the same GET requests over one kept-alive "
        "connection (the first repetition finds the page tokens with one curl per page instead; --compressed, "
        "as mlflowpp asks for any encoding, and the server sends identity), plus a simdjson parse "
        "of those bodies into the std::vector<mlflowpp::Metric> the client returns. Readers run in rotating "
        f"order, {ctx.reps} repetition(s), medians; server on core 0, readers on core 1."
    )
    return {"rows": rows, "targets": targets, "notes": notes}
