"""Scenario e: upload and download of a 2 GiB artifact through the tracking server's artifact
proxy (the SQLite server; its artifacts destination is a local directory).

A file of random bytes (8 MiB blocks, each stamped with its index) is generated in the work
directory (never committed). Each repetition, in rotating order, each client uploads it under
its own directory of one run's artifacts and downloads it back, and the download is compared
byte for byte (cmp) with the source:

  mlflowpp  Client::log_artifact / download_artifacts (bench_artifacts.cpp), which reports the
            time of the transfer and its peak memory (VmHWM) before and after it
  curl      curl -T (one PUT, `Expect:` off) and curl -o (one GET) on the same endpoint,
            `<uri>/api/2.0/mlflow-artifacts/artifacts/<run's artifact path>/curl/big.bin`;
            its time is curl's time_total
  python    MlflowClient().log_artifact / download_artifacts (bench/python_artifacts.py),
            first repetition only: a bonus row, it costs as much as the others together

Processes on core 1, the server on core 0. Each client's copy on the server is deleted after
its download (the disk then holds at most the source, one copy on the server and one
download), and the run's artifacts and the file at the end.
"""
import os
import shutil
import time
import urllib.request

from benchlib import median, ratio, run_process

ID = "e"
TITLE = "upload and download of a 2 GiB artifact"
MIB = 2**20
FLAT_KIB = 64 * 1024  # "flat": the uploader's peak RSS grows by less than 64 MiB (as the large-artifact test)


def _generate(path, size):
    """Random bytes, fast: one 8 MiB random block, each copy of it stamped with its index
    (so that a misplaced or repeated block cannot compare equal)."""
    chunk = 8 * MIB
    block = bytearray(os.urandom(chunk))
    with open(path, "wb") as f:
        for i, at in enumerate(range(0, size, chunk)):
            block[:8] = i.to_bytes(8, "little")
            f.write(block[: min(chunk, size - at)])


def _size(ctx, notes):
    """2 GiB (8 MiB quick), less when the disk cannot hold the source, the server's copy (and
    its temporary), and a download: 4 × the size plus 1 GiB."""
    size = ctx.scale(2048 * MIB, 8 * MIB)
    free = shutil.disk_usage(ctx.work_dir).free
    if free < 4 * size + 1024 * MIB:
        fits = max(8, (free - 1024 * MIB) // 4 // MIB) * MIB
        notes.append(f"only {free / 2**30:.1f} GiB free: the file is {fits // MIB} MiB instead of {size // MIB} MiB")
        size = min(size, fits)
    return size


def _delete(url):
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=600).read()


def _requests(server, offset):
    """(PUT or GET requests of the file itself, every other request) since offset."""
    counts = server.requests_since(offset)
    errors = server.errors(counts)
    if errors:
        raise RuntimeError(f"server errors: {errors}")
    file = sum(n for (m, p, _), n in counts.items() if m in ("PUT", "GET") and p.endswith("/big.bin"))
    return file, sum(counts.values()) - file


def _transfer(ctx, server, client, op, run_id, base, src, work):
    """One timed transfer; returns its figures."""
    env = {"MLFLOW_TRACKING_URI": server.uri}
    dst = os.path.join(work, "dl")
    remote = f"{client}/big.bin"
    off = server.log_offset()
    if client == "curl":
        argv = ["curl", "-sS", "--fail", "-w", "%{time_total}"]
        if op == "upload":
            argv += ["-o", "/dev/null", "-H", "Expect:", "-T", src, f"{base}/{remote}"]
        else:
            os.makedirs(os.path.join(dst, client), exist_ok=True)
            argv += ["-o", os.path.join(dst, remote), f"{base}/{remote}"]
        p = run_process(argv, cpus=ctx.client_cpu)
        j = {"seconds": float(p.stdout.strip()), "path": os.path.join(dst, remote)}
    else:
        prog = [ctx.bin("mlflowpp_bench_artifacts")] if client == "mlflowpp" else [
            ctx.python, ctx.script("python_artifacts.py")]
        args = [op, run_id, src, client] if op == "upload" else [op, run_id, remote, dst]
        p = run_process(prog + args, env=env, cpus=ctx.client_cpu)
        j = p.json_lines()[-1]
    file_requests, other_requests = _requests(server, off)
    if op == "download":
        # mlflowpp and curl keep the artifact's layout (dl/<client>/big.bin); Python's
        # download_artifacts of a file puts it directly in the directory (dl/big.bin).
        if run_process(["cmp", "-s", src, j["path"]], check=False).rc != 0:
            raise RuntimeError(f"{client}'s download of {remote} differs from the file uploaded")
        shutil.rmtree(dst)
    size = os.path.getsize(src)
    fig = {"seconds": j["seconds"], "mib_s": size / MIB / j["seconds"], "file_requests": file_requests,
           "other_requests": other_requests}
    if "hwm_before_kib" in j:
        fig["rss_growth_mib"] = (j["hwm_after_kib"] - j["hwm_before_kib"]) / 1024
    return fig


def run(ctx):
    notes = []
    server = ctx.servers["sqlite"]
    size = _size(ctx, notes)
    work = os.path.join(ctx.work_dir, "artifacts")
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "big.bin")
    t0 = time.perf_counter()
    _generate(src, size)
    gen_s = time.perf_counter() - t0

    pyc = server.python_client()
    exp = pyc.create_experiment(f"bench-artifacts-{time.time_ns()}")
    run_info = pyc.create_run(exp).info
    prefix = "mlflow-artifacts:"
    if not run_info.artifact_uri.startswith(prefix):
        raise RuntimeError(f"the run's artifacts ({run_info.artifact_uri}) are not served by the proxy")
    base = f"{server.uri}/api/2.0/mlflow-artifacts/artifacts/{run_info.artifact_uri[len(prefix):].lstrip('/')}"

    clients = ["mlflowpp", "curl", "python"]
    results = {(c, op): [] for c in clients for op in ("upload", "download")}
    server.pin("0")
    try:
        for rep in range(ctx.reps):
            order = clients[rep % 3:] + clients[:rep % 3]
            for c in order:
                if c == "python" and rep > 0:
                    continue
                for op in ("upload", "download"):
                    results[(c, op)].append(_transfer(ctx, server, c, op, run_info.run_id, base, src, work))
                _delete(f"{base}/{c}")
    finally:
        server.pin(f"0-{(os.cpu_count() or 1) - 1}")
        try:
            _delete(base)
        finally:
            os.remove(src)

    rows = []
    for (c, op), reps in results.items():
        figures = {"bytes": size}
        for k in reps[0]:
            figures[k] = median([x[k] for x in reps])
        rows.append({"client": f"{c} {op}", "figures": figures})
    f = {r["client"]: r["figures"] for r in rows}
    targets = []
    for op in ("upload", "download"):
        cpp, curl = f[f"mlflowpp {op}"], f[f"curl {op}"]
        x = ratio(cpp["mib_s"], curl["mib_s"])
        targets.append({"what": f"mlflowpp {op} throughput / curl's", "target": "≥ 0.95×",
                        "measured": f"{x:.3f}× ({cpp['mib_s']:.0f} vs {curl['mib_s']:.0f} MiB/s)", "met": x >= 0.95})
    growth = max(x["rss_growth_mib"] for x in results[("mlflowpp", "upload")])
    targets.append({"what": f"mlflowpp uploader memory flat ({size // MIB} MiB file)",
                    "target": f"peak RSS growth < {FLAT_KIB // 1024} MiB",
                    "measured": f"+{growth:.1f} MiB (largest of {ctx.reps})", "met": growth * 1024 < FLAT_KIB})
    notes.append(
        f"{size // MIB} MiB of random bytes (8 MiB blocks stamped with their index; written in {gen_s:.1f} s); "
        "each download compared byte for byte with the source. Times are the transfer's only (the clients' "
        "after one untimed request; curl's time_total, curl with its default buffers); rss_growth_mib is the "
        "growth of the process's peak RSS (VmHWM) during the transfer. "
        f"{ctx.reps} repetition(s) for mlflowpp and curl, in rotating order, medians; Python once. Requests as "
        "the server logged them: file_requests the PUT or GET of the file itself (1: no retry), other_requests "
        "the rest, the clients' untimed first request included. Inside the timed call mlflowpp also asks "
        "runs/get for the artifact root and, before a download, lists twice to tell a file from a directory "
        "(Python: runs/get, server-info, and for a download a listing and logged-models/search), which curl, "
        "given the URL, does not: a few milliseconds, visible at --quick sizes only."
    )
    return {"rows": rows, "targets": targets, "notes": notes}
