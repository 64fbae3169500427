"""Scenario c: a training loop doing ~1 ms of CPU work per step, logging 10 or 100 metrics per
step (distinct keys, like per-layer statistics): step time with and without logging, side by
side with Python's async logging in the same loop.

Drivers: bench/bench_training_loop.cpp (ActiveRun::log_metrics) and bench/python_training_loop.py
(mlflow.log_metrics(..., synchronous=False)); 0 metrics is the baseline (no client at all). The
work per step is calibrated once per language and passed to every process, so that baseline and
logged runs do the same work; baseline and logged runs alternate within each repetition.
"""
from benchlib import median, ratio, run_process

ID = "c"
TITLE = "a training loop with 1 ms of work per step"

WORK_US = 1000


def _argv(ctx, client, iters, metrics, steps, warmup, isolate):
    if client == "mlflowpp":
        argv = [ctx.bin("mlflowpp_bench_training_loop")]
    else:
        argv = [ctx.python, ctx.script("python_training_loop.py")]
    argv += ["--work-iters", iters, "--steps", steps, "--warmup-steps", warmup, "--metrics", metrics]
    if isolate:
        argv += ["--isolate", ctx.client_cpu]
    return argv


def _calibrate(ctx, client, env):
    argv = [ctx.bin("mlflowpp_bench_training_loop")] if client == "mlflowpp" else [
        ctx.python, ctx.script("python_training_loop.py")]
    p = run_process(argv + ["--calibrate", "--work-us", WORK_US], env=env, cpus=ctx.client_cpu)
    return p.json_lines()[-1]["work_iters"]


def run(ctx):
    server = ctx.servers["sqlite"]
    server.pin("0")
    # Python's async logging sends one request per call by default (this server answers ~60 a
    # second); a 1 s buffering window merges its queue into batches of up to 1,000 (see a).
    env = {"MLFLOW_TRACKING_URI": server.uri, "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS": "1"}
    # 100 metrics/step: fewer steps, since this server stores ~5,000-10,000 points a second and
    # every run waits for its points before the next starts.
    steps, steps_100, warmup = ctx.scale(1500, 60), ctx.scale(400, 30), ctx.scale(30, 10)
    can_isolate = ctx.client_cpu is not None  # a second core for the logger's threads
    configs = [(0, steps, False), (10, steps, False), (100, steps_100, False)]
    if can_isolate:
        configs.append((100, steps_100, True))
    iters = {c: _calibrate(ctx, c, env) for c in ("mlflowpp", "python")}

    res = {}  # (client, metrics, isolate) -> [result of each rep]
    offset = server.log_offset()
    for _ in range(ctx.reps):
        for client in ("mlflowpp", "python"):
            for metrics, n, isolate in configs:
                argv = _argv(ctx, client, iters[client], metrics, n, warmup, isolate)
                # Isolated: the process may use both cores; it moves its training thread alone
                # to the client core and its other threads to the rest (core 0, with the server).
                cpus = None if isolate else ctx.client_cpu
                p = run_process(argv, env=env, cpus=cpus, timeout=900)
                res.setdefault((client, metrics, isolate), []).append(p.json_lines()[-1])
    counts = server.requests_since(offset)

    def overhead(client, metrics, isolate, fig):
        """Per repetition, the logged run against the baseline of the same repetition (%)."""
        logged, base = res[(client, metrics, isolate)], res[(client, 0, False)]
        return median([100.0 * (r[fig] / b[fig] - 1.0) for r, b in zip(logged, base)])

    rows = []
    read_back = {"got": 0, "want": 0}
    for client in ("mlflowpp", "python"):
        for metrics, n, isolate in configs:
            rs = res[(client, metrics, isolate)]
            fig = {f: median([r[f] for r in rs]) for f in ("mean_us", "p50_us", "p99_us")}
            label = f"{client}, baseline (no logging)"
            if metrics:
                fig["mean_overhead_pct"] = overhead(client, metrics, isolate, "mean_us")
                fig["p99_overhead_pct"] = overhead(client, metrics, isolate, "p99_us")
                fig["in_call_p50_us"] = median([r["log_p50_us"] for r in rs])
                fig["in_call_mean_us"] = median([r["log_mean_us"] for r in rs])
                fig["in_call_p99_us"] = median([r["log_p99_us"] for r in rs])
                # CPU of the process's other threads (the logger's) per measured step.
                fig["other_threads_cpu_us_per_step"] = median(
                    [1e6 * (r["process_cpu_s"] - r["thread_cpu_s"]) / r["steps"] for r in rs])
                fig["drain_s"] = median([r["end_s"] for r in rs])
                where = f"; training thread alone on core {ctx.client_cpu}" if isolate else ""
                api = "ActiveRun::log_metrics" if client == "mlflowpp" else "mlflow.log_metrics(synchronous=False)"
                label = f"{client} {api}, {metrics} metrics/step{where}"
                if client == "python":  # the logging call itself, against mlflowpp's
                    twin = res[("mlflowpp", metrics, isolate)]
                    for f in ("log_p50_us", "log_mean_us"):
                        fig[f"x_in_call_{f[4:-3]}_vs_mlflowpp"] = ratio(
                            median([r[f] for r in rs]), median([r[f] for r in twin]))
                for r in rs:  # the first and the last key of every logged run
                    for k in (r["keys"][0], r["keys"][-1]):
                        read_back["got"] += len(server.history(r["run_id"], k))
                        read_back["want"] += r["points_per_key"]
            fig["steps"] = n
            rows.append({"client": label, "figures": fig})
    targets = []
    for isolate in ([False, True] if can_isolate else [False]):
        where = f"training thread alone on core {ctx.client_cpu}" if isolate else \
            f"one core ({ctx.client_cpu}) shared with the logger's threads"
        m, p = overhead("mlflowpp", 100, isolate, "mean_us"), overhead("mlflowpp", 100, isolate, "p99_us")
        rs = res[("mlflowpp", 100, isolate)]
        in_call = median([r["log_mean_us"] for r in rs])
        others = median([1e6 * (r["process_cpu_s"] - r["thread_cpu_s"]) / r["steps"] for r in rs])
        targets += [
            {"what": f"mean step overhead, 100 metrics/step ({where})", "target": "≤ 0.5 %",
             "measured": f"{m:.2f} % (in the call {in_call:.1f} µs/step; the logger's threads "
                         f"{others:.0f} µs of CPU/step)", "met": m <= 0.5},
            {"what": f"p99 step overhead, 100 metrics/step ({where})", "target": "≤ 2 %",
             "measured": f"{p:.2f} %", "met": p <= 2.0},
        ]

    cpp_logged = [r for (c, k, _), rs in res.items() if c == "mlflowpp" and k for r in rs]
    delivered = sum(r["delivered"] for r in cpp_logged)
    logged = sum(r["metrics"] * r["points_per_key"] for r in cpp_logged)
    # The first start_run of an experiment asks for it by name and gets 404 before creating it.
    errors = {k: n for k, n in server.errors(counts).items() if "experiments/get-by-name 404" not in k}
    notes = [
        f"Step = a fixed amount of CPU work calibrated to ~{WORK_US} µs (mlflowpp: {iters['mlflowpp']:,} "
        f"iterations of a dependent multiply-add chain; Python: {iters['python']:,} iterations of a Python "
        "loop), then the logging call; not a clock spin, so CPU taken by other threads lengthens the step. "
        f"Steps: {steps:,} (baseline, 10 metrics) and {steps_100:,} (100 metrics) after {warmup} logged "
        f"warm-up steps; medians of {ctx.reps} repetitions, each logged run against the baseline of its "
        f"repetition. Processes on core {ctx.client_cpu}, the server on core 0.",
        "Two placements: everything on one core (the training thread shares it with the logger's batching "
        "and sending threads, whose CPU per step is other_threads_cpu_us_per_step), and the training thread "
        "alone on its core with the logger's threads on core 0 (beside the server), as on a machine with a "
        "spare core. in_call_*: the time inside the logging call itself (x_in_call_*: Python's over mlflowpp's).",
        "On a shared core the mean overhead is bounded by the logger's own CPU per point (batching, JSON, "
        "journal, HTTP: other_threads_cpu_us_per_step / metrics per step), which the training thread pays "
        "there whoever does the work; the p99 by the steps during which the batching thread runs (woken "
        "every 1,000 queued items, it preempts the training thread on that core for about a millisecond: "
        "in_call_p99_us). With a core of its own, the training thread pays the calls themselves "
        "(in_call_mean_us) and whatever else lands on its core; a p99 step overhead well above "
        "in_call_p99_us is time lost outside the call.",
        f"Delivered: mlflowpp's logger counted {delivered:,} of {logged:,} points delivered; reading back the "
        f"first and last key of every logged run (both clients) found {read_back['got']:,} of "
        f"{read_back['want']:,} points; {server.count(counts, '/runs/log-batch'):,} log-batch requests in the "
        "server log" + (f"; errors: {errors}" if errors else "; no HTTP errors (a first lookup of an "
                                           "experiment by name answers 404: not counted)") + ". drain_s: how long "
        "ending the run waited for the server (after the measured steps).",
        "Python's gap: mlflow.log_metrics builds the Metric objects and an MlflowClient per call on the "
        "training thread (see a), and its batching threads need the GIL the training loop holds. Its "
        "batching waits 1 s before it merges the queue (MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS), so in "
        "runs shorter than that (100 metrics/step) it does all of its work after the measured steps "
        "(other_threads_cpu_us_per_step = 0), which flatters Python there.",
    ]
    if delivered != logged or read_back["got"] != read_back["want"]:
        notes.append("NOT every point was delivered / read back: see the Delivered line.")
    return {"rows": rows, "targets": targets, "notes": notes}
