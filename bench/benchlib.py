"""Shared parts of the benchmark harness (bench/run.py): processes measured with wait4, the
servers scripts/bench.sh started (their access logs count requests), reading back through
the official Python client, medians and the machine description.

A scenario module (bench/scenarios/*.py) exposes ID, TITLE and run(ctx) -> dict with:
  rows:    [{"client": str, "figures": {name: number}, ...}]    one per thing measured
  targets: [{"what": str, "target": str, "measured": str, "met": bool | None}]
  notes:   [str]                                                what bounds a figure, caveats
"""
import collections
import json
import os
import re
import shlex
import statistics
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

ACCESS_LINE = re.compile(r'"(GET|POST|PUT|PATCH|DELETE|HEAD) (\S+?)(?:\?\S*)? HTTP/[\d.]+" (\d{3})')


@dataclass
class Proc:
    """A finished process: its output, wall time and the CPU it (and its children) used."""

    argv: list
    rc: int
    stdout: str
    stderr: str
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_kib: int  # wait4's: includes the harness's RSS at fork time; drivers report their own

    @property
    def cpu_s(self):
        return self.user_s + self.sys_s

    def json_lines(self):
        """Every stdout line that is a JSON object, parsed (the drivers' way to report)."""
        out = []
        for line in self.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def check(self):
        if self.rc != 0:
            raise RuntimeError(
                f"{shlex.join(map(str, self.argv))} exited {self.rc}\n--- stdout\n{self.stdout[-3000:]}"
                f"\n--- stderr\n{self.stderr[-3000:]}"
            )
        return self


def start_process(argv, env=None, cpus=None, cwd=None):
    """Start argv (pinned to `cpus`, e.g. "1", with taskset); finish it with wait_process."""
    argv = [str(a) for a in argv]
    if cpus is not None and (os.cpu_count() or 1) > 1:
        argv = ["taskset", "-c", str(cpus)] + argv
    full_env = dict(os.environ)
    full_env.update({k: str(v) for k, v in (env or {}).items()})
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    p = subprocess.Popen(argv, stdout=out, stderr=err, env=full_env, cwd=cwd)
    return {"p": p, "argv": argv, "out": out, "err": err, "t0": time.perf_counter()}


def wait_process(h, timeout=3600, check=True):
    """Wait for a start_process handle; its own CPU and peak RSS come from wait4."""
    p = h["p"]
    deadline = time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            break
        if time.monotonic() > deadline:
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.005)
    wall = time.perf_counter() - h["t0"]
    p.returncode = os.waitstatus_to_exitcode(status)
    h["out"].seek(0)
    h["err"].seek(0)
    proc = Proc(
        argv=h["argv"],
        rc=p.returncode,
        stdout=h["out"].read().decode("utf-8", "replace"),
        stderr=h["err"].read().decode("utf-8", "replace"),
        wall_s=wall,
        user_s=ru.ru_utime,
        sys_s=ru.ru_stime,
        maxrss_kib=ru.ru_maxrss,
    )
    h["out"].close()
    h["err"].close()
    return proc.check() if check else proc


def run_process(argv, env=None, cpus=None, timeout=3600, cwd=None, check=True):
    """Run argv to completion and measure it: wall, its CPU (user, system), peak RSS."""
    return wait_process(start_process(argv, env, cpus, cwd), timeout, check)


@dataclass
class Server:
    """A tracking server started by scripts/lib.sh (state in `dir`: server.log, server.pid)."""

    name: str
    uri: str
    dir: str
    backend: str  # "sqlite" or "postgresql"
    workers: int
    lib_sh: str = ""

    def log_offset(self):
        return os.path.getsize(os.path.join(self.dir, "server.log"))

    def requests_since(self, offset):
        """Counter of (method, path, status) of the requests the server logged since offset."""
        # uvicorn writes its access line after the response; give the last ones a moment.
        time.sleep(0.3)
        counts = collections.Counter()
        with open(os.path.join(self.dir, "server.log"), "rb") as f:
            f.seek(offset)
            for raw in f:
                m = ACCESS_LINE.search(raw.decode("utf-8", "replace"))
                if m:
                    counts[(m.group(1), m.group(2), int(m.group(3)))] += 1
        return counts

    def count(self, counts, suffix, method="POST"):
        return sum(n for (m, p, _), n in counts.items() if m == method and p.endswith(suffix))

    def errors(self, counts):
        return {f"{m} {p} {s}": n for (m, p, s), n in counts.items() if s >= 400}

    def pids(self):
        """The server's processes (its process group)."""
        try:
            pgid = int(open(os.path.join(self.dir, "server.pid")).read())
        except (OSError, ValueError):
            return []
        pids = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    if os.getpgid(int(d)) == pgid:
                        pids.append(int(d))
                except OSError:
                    pass
        return pids

    def cpu_seconds(self):
        """user+system CPU the server's processes have used so far."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return total / tick

    def pin(self, cpus):
        """Pin every process of the server to `cpus` (e.g. "0")."""
        for pid in self.pids():
            subprocess.run(["taskset", "-a", "-p", "-c", str(cpus), str(pid)], capture_output=True)

    def stop(self):
        self._lib("stop_mlflow_server")

    def restart(self):
        self._lib("restart_mlflow_server")

    def _lib(self, fn):
        subprocess.run(
            ["bash", "-c", f'source "$0"; {fn} "$1"', self.lib_sh, self.name], check=True, capture_output=True
        )

    def rest(self, method, path, body=None, timeout=120):
        """One REST call (path below /api/), answered JSON parsed."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.uri}/api/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"{}")

    def points(self, run_id, key, page=25000):
        """Every point of a metric's history, read back by paged REST get-history calls:
        {step: [values]} (a step seen twice means a point delivered twice)."""
        steps = collections.defaultdict(list)
        token = None
        while True:
            q = {"run_id": run_id, "metric_key": key, "max_results": page}
            if token:
                q["page_token"] = token
            r = self.rest("GET", "2.0/mlflow/metrics/get-history?" + urllib.parse.urlencode(q))
            for m in r.get("metrics", []):
                steps[int(m.get("step", 0))].append(m["value"])
            token = r.get("next_page_token")
            if not token:
                return steps

    def python_client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri)

    def history(self, run_id, key):
        """A metric's whole history, read back through the official Python client."""
        return self.python_client().get_metric_history(run_id, key)


class Context:
    def __init__(self, quick, bin_dir, python, servers, root, work_dir, reps):
        self.quick = quick
        self.bin_dir = bin_dir
        self.python = python
        self.servers = servers  # {"sqlite": Server, "pg": Server}
        self.root = root
        self.work_dir = work_dir
        self.reps = reps

    def bin(self, name):
        path = os.path.join(self.bin_dir, name)
        if not os.access(path, os.X_OK):
            raise FileNotFoundError(f"benchmark program {path} was not built")
        return path

    def script(self, name):
        return os.path.join(self.root, "bench", name)

    def scale(self, full, quick):
        return quick if self.quick else full

    @property
    def client_cpu(self):
        """The core a logging process is pinned to ("1"); servers sit on core 0."""
        return "1" if (os.cpu_count() or 1) > 1 else None


def median(values):
    return statistics.median(values) if values else float("nan")


def ratio(a, b):
    return a / b if b else float("inf")


def machine():
    """CPU model, cores, kernel and versions, for the results file."""

    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
        except OSError:
            return ""

    cpu = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    import mlflow
    import sqlite3

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": out(["uname", "-r"]),
        "os": out(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "mlflow": mlflow.__version__,
        "python": out([os.sys.executable, "-V"]),
        "compiler": out(["c++", "--version"]).splitlines()[0] if out(["c++", "--version"]) else "",
        "curl": out(["curl", "--version"]).split("\n")[0],
        "postgresql": out(["sh", "-c", "ls /usr/lib/postgresql | sort -V | tail -n 1"]),
        "sqlite": sqlite3.sqlite_version,
        "mlflowpp_commit": git_commit(),
    }


def git_commit():
    """The mlflowpp commit measured (short hash; '+' when the tree has changes)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        h = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                           timeout=20).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=20).stdout.strip()
    except OSError:
        return ""
    return h + ("+" if dirty else "")


def fmt(v, unit=""):
    if isinstance(v, float):
        if v != v:
            return "-"
        if abs(v) >= 100:
            s = f"{v:,.0f}"
        elif abs(v) >= 10:
            s = f"{v:.1f}"
        else:
            s = f"{v:.3g}"
    else:
        s = f"{v:,}" if isinstance(v, int) else str(v)
    return s + unit
