#!/usr/bin/env python3
"""A small HTTP/1.1 reverse proxy that injects faults, for mlflowpp's fault tests.

Standard library only (Python >= 3.9). Usage:

    python3 fault_proxy.py --upstream http://127.0.0.1:5000 [--port 0] [--max-seconds 600] [--verbose]

It listens on 127.0.0.1 (a free port unless --port is given), prints "PORT <n>" on stdout
once listening (then prints nothing more on stdout; --verbose logs go to stderr), and
forwards every request to the upstream server. It stops by itself after --max-seconds, on
SIGTERM or SIGINT, and when the process that started it goes away.

Connections: keep-alive is supported on the client side (HTTP/1.1 default; "Connection:
close" from the client or HTTP/1.0 closes after the answer), so a client's connection pool
is exercised as against a real server. Each forwarded request opens a fresh upstream
connection with "Connection: close"; the upstream answer is read whole (Content-Length,
chunked or until EOF) and re-framed to the client with a Content-Length. Request bodies
may be Content-Length or chunked; "Expect: 100-continue" is answered by the proxy.

Control endpoint (same port, never forwarded, never faulted):

    POST /__fault__         JSON body: the fault plan (replaces the current one)
        {"mode": "none" | "status" | "status_after_forward" | "reset_before"
                 | "reset_after_forward" | "stall" | "slow",
         "count": 1,               # matching requests it applies to, then back to "none"
         "path_prefix": "/api/2.0/mlflow/runs/log-batch",
         "status": 503,            # status, status_after_forward
         "retry_after": "1",       # optional Retry-After header value (status modes)
         "content_type": "text/html",  # optional, status modes: the answer's Content-Type
                                   # ("" sends none; default application/json)
         "body": "<html>..</html>",  # optional, status modes: the answer's body instead of
                                   # an MLflow-style JSON error (e.g. a gateway's login page
                                   # with status 200: the proxy then acts as a stub server)
         "seconds": 3.0,           # stall: hold the request this long, then forward it
         "bytes_per_second": 200}  # slow: dribble the (forwarded) answer at this rate
      answers {"ok": true, "plan": {...}}
    GET /__fault__/stats[?wait_idle=S]
      answers {"requests": {path: n}, "faults": {mode: n}, "plan": {...},
               "in_flight": n, "remaining": n}
      With wait_idle, the answer waits (at most S seconds) until no upstream forward is in
      flight: a request stalled by "stall" is forwarded even after its client gave up, and
      a test waits for it this way before reading the server back.

Modes, for each matching request while the plan's count lasts:
  none                  forward
  status                answer `status` (with Retry-After if given) without forwarding
  status_after_forward  forward (the server commits), then answer `status` instead
  reset_before          reset the connection (RST) without answering, not forwarded
  reset_after_forward   forward (the server commits), then reset instead of answering
  stall                 hold the request `seconds`, then forward it (even if the client
                        has gone) and answer if the client is still there
  slow                  forward, then send the answer at `bytes_per_second`
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import struct
import sys
import time
import urllib.parse

DEFAULT_PREFIX = "/api/2.0/mlflow/runs/log-batch"
MODES = ("none", "status", "status_after_forward", "reset_before", "reset_after_forward", "stall", "slow")
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 408: "Request Timeout",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
              "upgrade", "expect", "content-length"}
MAX_HEADER_BYTES = 64 * 1024


class BadRequest(Exception):
    pass


def log(args, *msg):
    if args.verbose:
        print("fault_proxy:", *msg, file=sys.stderr, flush=True)


class State:
    def __init__(self):
        self.plan = {"mode": "none", "count": 0, "path_prefix": DEFAULT_PREFIX}
        self.remaining = 0
        self.requests = {}
        self.faults = {}
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def set_plan(self, plan):
        mode = plan.get("mode", "none")
        if mode not in MODES:
            raise BadRequest("unknown mode %r" % (mode,))
        p = {
            "mode": mode,
            "count": int(plan.get("count", 1)),
            "path_prefix": str(plan.get("path_prefix", DEFAULT_PREFIX)),
            "status": int(plan.get("status", 503)),
            "retry_after": plan.get("retry_after"),
            "content_type": plan.get("content_type", "application/json"),
            "body": plan.get("body"),
            "seconds": float(plan.get("seconds", 3.0)),
            "bytes_per_second": max(1, int(plan.get("bytes_per_second", 200))),
        }
        self.plan = p
        self.remaining = p["count"] if mode != "none" else 0

    def take_fault(self, path):
        """The mode to apply to a request for `path` (consumes one from the plan's count)."""
        if self.remaining <= 0 or not path.startswith(self.plan["path_prefix"]):
            return "none"
        self.remaining -= 1
        mode = self.plan["mode"]
        self.faults[mode] = self.faults.get(mode, 0) + 1
        return mode

    def forward_started(self):
        self.in_flight += 1
        self.idle.clear()

    def forward_done(self):
        self.in_flight -= 1
        if self.in_flight == 0:
            self.idle.set()


async def read_headers(reader):
    """Reads a header block; returns (start_line, [(name, value)]) or None at a clean EOF."""
    try:
        block = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        raise BadRequest("truncated header block")
    except asyncio.LimitOverrunError:
        raise BadRequest("header block too large")
    lines = block[:-4].decode("latin-1").split("\r\n")
    while lines and lines[0] == "":  # tolerate stray CRLFs between messages
        lines.pop(0)
    if not lines:
        return None
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest("malformed header line %r" % (line,))
        headers.append((name.strip(), value.strip()))
    return lines[0], headers


def header(headers, name):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


async def read_body(reader, headers, until_eof=False):
    te = (header(headers, "transfer-encoding") or "").lower()
    if "chunked" in te:
        out = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return bytes(out)
            out += await reader.readexactly(size)
            await reader.readexactly(2)
    cl = header(headers, "content-length")
    if cl is not None:
        return await reader.readexactly(int(cl))
    return await reader.read() if until_eof else b""


def render(start_line, headers, body):
    head = start_line + "\r\n" + "".join("%s: %s\r\n" % (k, v) for k, v in headers) + "\r\n"
    return head.encode("latin-1") + body


def reset(writer):
    """Closes the client connection with a TCP RST (no answer)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class Proxy:
    def __init__(self, args):
        self.args = args
        u = urllib.parse.urlsplit(args.upstream)
        if u.scheme != "http" or not u.hostname:
            raise SystemExit("fault_proxy: --upstream must be http://host[:port][/prefix]")
        self.up_host = u.hostname
        self.up_port = u.port or 80
        self.up_hostport = u.netloc
        self.up_prefix = u.path.rstrip("/")
        self.state = State()

    async def forward(self, method, target, version, headers, body):
        """Sends the request upstream; returns (status, reason, headers, body)."""
        reader, writer = await asyncio.open_connection(self.up_host, self.up_port, limit=MAX_HEADER_BYTES)
        try:
            out = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() != "host"]
            out.insert(0, ("Host", self.up_hostport))
            if body or method in ("POST", "PUT", "PATCH"):
                out.append(("Content-Length", str(len(body))))
            out.append(("Connection", "close"))
            writer.write(render("%s %s HTTP/1.1" % (method, self.up_prefix + target), out, body))
            await writer.drain()
            while True:
                got = await read_headers(reader)
                if got is None:
                    raise ConnectionError("upstream closed without answering")
                status_line, rheaders = got
                parts = status_line.split(" ", 2)
                status = int(parts[1])
                if status >= 200 or status == 101:
                    break  # skip 1xx interim answers
            no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
            rbody = b"" if no_body else await read_body(reader, rheaders, until_eof=True)
            return status, (parts[2] if len(parts) > 2 else ""), rheaders, rbody
        finally:
            writer.close()

    async def control(self, method, path, query, body):
        if method == "POST" and path == "/__fault__":
            try:
                self.state.set_plan(json.loads(body.decode("utf-8") or "{}"))
            except (ValueError, TypeError, BadRequest) as e:
                return 400, {"ok": False, "error": str(e)}
            log(self.args, "plan", self.state.plan)
            return 200, {"ok": True, "plan": self.state.plan}
        if method == "GET" and path == "/__fault__/stats":
            q = urllib.parse.parse_qs(query)
            if "wait_idle" in q:
                try:
                    await asyncio.wait_for(self.state.idle.wait(), float(q["wait_idle"][0]))
                except asyncio.TimeoutError:
                    pass
            s = self.state
            return 200, {"requests": s.requests, "faults": s.faults, "plan": s.plan,
                         "in_flight": s.in_flight, "remaining": s.remaining}
        return 404, {"ok": False, "error": "unknown control endpoint"}

    async def handle(self, reader, writer):
        try:
            while True:
                got = await read_headers(reader)
                if got is None:
                    return
                request_line, headers = got
                parts = request_line.split(" ")
                if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                    raise BadRequest("malformed request line %r" % (request_line,))
                method, target, version = parts
                if (header(headers, "expect") or "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    await writer.drain()
                body = await read_body(reader, headers)
                conn = (header(headers, "connection") or "").lower()
                keep_alive = (version == "HTTP/1.1" and "close" not in conn) or "keep-alive" in conn
                path, _, query = target.partition("?")
                if path == "/__fault__" or path.startswith("/__fault__/"):
                    status, obj = await self.control(method, path, query, body)
                    payload = json.dumps(obj).encode("utf-8")
                    await self.answer(writer, status, "", [("Content-Type", "application/json")], payload,
                                      keep_alive)
                    if not keep_alive:
                        return
                    continue
                self.state.requests[path] = self.state.requests.get(path, 0) + 1
                mode = self.state.take_fault(path)
                plan = self.state.plan
                log(self.args, method, target, "->", mode)
                if mode == "reset_before":
                    reset(writer)
                    return
                if mode == "status":
                    await self.answer(writer, plan["status"], "", self.fault_headers(plan),
                                      self.fault_body(plan), keep_alive)
                    if not keep_alive:
                        return
                    continue
                # A stalled request counts as in flight from now on (see wait_idle).
                self.state.forward_started()
                try:
                    if mode == "stall":
                        await asyncio.sleep(plan["seconds"])
                    status, reason, rheaders, rbody = await self.forward(method, target, version, headers, body)
                except (OSError, ConnectionError, asyncio.IncompleteReadError, BadRequest, ValueError) as e:
                    log(self.args, "upstream failed:", e)
                    status, reason, rheaders = 502, "", [("Content-Type", "text/plain")]
                    rbody = ("fault_proxy: upstream failed: %s\n" % (e,)).encode("utf-8")
                finally:
                    self.state.forward_done()
                if mode == "reset_after_forward":
                    reset(writer)
                    return
                if mode == "status_after_forward":
                    status, reason, rheaders, rbody = (plan["status"], "", self.fault_headers(plan),
                                                       self.fault_body(plan))
                if writer.is_closing():
                    return  # the client gave up (stall): the forward happened all the same
                rate = plan["bytes_per_second"] if mode == "slow" else None
                kept = [(k, v) for k, v in rheaders if k.lower() not in HOP_BY_HOP]
                await self.answer(writer, status, reason, kept, rbody, keep_alive, rate)
                if not keep_alive:
                    return
        except (BadRequest, ValueError) as e:
            log(self.args, "bad request:", e)
            try:
                await self.answer(writer, 400, "", [("Content-Type", "text/plain")],
                                  ("fault_proxy: %s\n" % (e,)).encode("utf-8"), False)
            except (OSError, ConnectionError):
                pass
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away
        except asyncio.CancelledError:
            writer.transport.abort()  # the proxy is stopping (a stalled or dribbling answer)
            return
        finally:
            if not writer.transport.is_closing():
                writer.close()

    @staticmethod
    def fault_headers(plan):
        h = [("Content-Type", plan["content_type"])] if plan.get("content_type") else []
        if plan.get("retry_after") is not None:
            h.append(("Retry-After", str(plan["retry_after"])))
        return h

    @staticmethod
    def fault_body(plan):
        if plan.get("body") is not None:
            return plan["body"].encode("utf-8")
        status = plan["status"]
        return json.dumps({"error_code": "TEMPORARILY_UNAVAILABLE" if status != 429 else "RESOURCE_EXHAUSTED",
                           "message": "fault_proxy: injected HTTP %d" % status}).encode("utf-8")

    async def answer(self, writer, status, reason, headers, body, keep_alive, rate=None):
        headers = list(headers) + [("Content-Length", str(len(body))),
                                   ("Connection", "keep-alive" if keep_alive else "close")]
        data = render("HTTP/1.1 %d %s" % (status, reason or REASONS.get(status, "Unknown")), headers, body)
        if rate is None:
            writer.write(data)
            await writer.drain()
            return
        # Dribble: slices of about a tenth of a second's worth of bytes.
        step = max(1, rate // 10)
        for i in range(0, len(data), step):
            writer.write(data[i:i + step])
            await writer.drain()
            await asyncio.sleep(step / rate)


async def main_async(args):
    proxy = Proxy(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", args.port, limit=MAX_HEADER_BYTES)
    port = server.sockets[0].getsockname()[1]
    print("PORT %d" % port, flush=True)
    parent = os.getppid()
    deadline = time.monotonic() + args.max_seconds
    while not stop.is_set():
        if time.monotonic() >= deadline:
            log(args, "lifetime of %s s reached" % args.max_seconds)
            break
        if os.getppid() != parent:
            log(args, "parent process gone")
            break
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            pass
    server.close()
    # Pending handlers (stalled or dribbling) are abandoned: the process is exiting.


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="http://host[:port][/prefix] of the real server")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    ap.add_argument("--max-seconds", type=float, default=600.0, help="stop after this long")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args()
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
