"""Loopback throughput and latency of the bandit HTTP service (``choose``), with baselines.

Run: ``/work/venv/bin/python tests/benchmarks/bench_bandit_service.py [--quick]``

What it measures, each in the same run so the ratios compare like with like on a shared machine:

1. **Throughput**: closed-loop clients (raw keep-alive sockets in separate processes) post
   ``choose`` as fast as the service answers, for a fixed time; requests/s and errors.
   Baseline: a bare FastAPI ``/hello`` endpoint under the same uvicorn setup, same clients.
2. **Latency at a fixed rate** (1,000 requests/s, open loop: requests are sent on a schedule, not
   when the previous answer arrives, spread over several connections): p50/p99/max and errors.
   Baseline: the same service with TCP_NODELAY turned off on the server *and* the client
   sockets, where Nagle's algorithm meets delayed ACKs (the 40 ms stalls).

The load generator is deliberately minimal (pre-built request bytes, one ``sendall`` per request,
a small HTTP/1.1 response parser) so that it costs the 2 shared cores as little as possible.
Targets (issue #4): >= 2,000 choose/s sustained; p99 <= 5 ms at 1,000/s; zero errors.

``--compare-stores`` (issue #14) runs the SQLite and the Redis store (over loopback TCP and over a
unix domain socket, one redis-server) in the same run with 1, 2 and 4 worker processes
(``--worker-counts``), closed-loop clients posting choose only and choose + reward, and prints
choose/s, the ratio Redis/SQLite and the scaling with workers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

API_KEY = "bench-key"


# ------------------------------------------------------------------------------ raw HTTP client
def _request_bytes(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {API_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class RawConnection:
    """One keep-alive HTTP/1.1 connection; ``call`` returns the status code."""

    def __init__(self, port: int, nodelay: bool = True, split_writes: bool = False):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if nodelay else 0)
        self.buf = b""
        self.split_writes = split_writes

    def call(self, request: bytes) -> int:
        if self.split_writes:
            # headers and body in two writes, as httpx and http.client do
            head, _, body = request.partition(b"\r\n\r\n")
            self.sock.sendall(head + b"\r\n\r\n")
            self.sock.sendall(body)
        else:
            self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            rest += chunk
        self.buf = rest[length:]
        self.body = rest[:length]
        return status

    def close(self) -> None:
        self.sock.close()


def _run_clients(target, args: tuple, clients: int) -> dict:
    """Run ``target(*args, queue)`` in ``clients`` forked processes; each puts ``(requests, errors)`` on the
    queue. Returns requests, errors, wall seconds and requests per second over all of them."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, q)) for _ in range(clients)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join()
    n = sum(r[0] for r in results)
    return {"requests": n, "errors": sum(r[1] for r in results), "seconds": elapsed, "rps": n / elapsed}


def _closed_loop(port: int, request: bytes, seconds: float, out: mp.Queue) -> None:
    conn = RawConnection(port)
    n = errors = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        try:
            status = conn.call(request)
        except OSError:
            errors += 1
            conn = RawConnection(port)
            continue
        n += 1
        errors += status != 200
    conn.close()
    out.put((n, errors))


def _closed_loop_mixed(port: int, seconds: float, out: mp.Queue) -> None:
    """choose, then reward that decision (a conversion tool's loop): counts chooses."""
    conn = RawConnection(port)
    choose = _request_bytes("/v1/campaigns/bench/choose", b"{}")
    n = errors = k = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        try:
            if conn.call(choose) != 200:
                errors += 1
                continue
            decision_id = json.loads(conn.body)["decision_id"]
            k += 1
            body = json.dumps({"decision_id": decision_id, "reward": k % 7 == 0}).replace("true", "1").replace("false", "0")
            errors += conn.call(_request_bytes("/v1/rewards", body.encode())) != 200
        except OSError:
            errors += 1
            conn = RawConnection(port)
            continue
        n += 1
    conn.close()
    out.put((n, errors))


def mixed_throughput(port: int, clients: int, seconds: float) -> dict:
    """Closed-loop choose+reward pairs/s (reported as chooses/s) with ``clients`` processes."""
    return _run_clients(_closed_loop_mixed, (port, seconds), clients)


def compare_stores(seconds: float, worker_counts: list[int], clients: int, redis_nice: int = 0) -> None:
    """SQLite vs Redis (loopback TCP and unix socket) in the same run: choose/s (choose only, and
    choose + reward) per worker count. Durability like for like: SQLite WAL with synchronous=NORMAL
    (the store's setting: a power loss may lose the last commits) against Redis appendonly with
    appendfsync everysec (may lose the last second); no RDB snapshots; io-threads 1 (the default)."""
    py = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix="bench_bandit_cmp_"))
    rport = free_port()
    # --redis-nice < 0 (root only) gives redis-server a larger CPU share, as a Redis on its own core
    # or host would have; 0 = same priority as everything else on these 2 cores
    nice = ["nice", "-n", str(redis_nice)] if redis_nice else []
    redis_proc = subprocess.Popen([*nice, "redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--dir", str(tmp),
                                   "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
                                   "--io-threads", "1", "--unixsocket", str(tmp / "redis.sock"),
                                   "--unixsocketperm", "700"],
                                  stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    rows = []
    kinds = ("sqlite", "redis", "unix")  # unix: the same redis-server through its unix domain socket
    try:
        for workers in worker_counts:
            for kind in kinds:
                if kind == "sqlite":
                    store = f"sqlite:///{tmp}/cmp{workers}.db"
                else:
                    subprocess.run(["redis-cli", "-p", str(rport), "flushall"], stdout=subprocess.DEVNULL, check=False)
                    store = f"redis://127.0.0.1:{rport}/0" if kind == "redis" else f"unix://{tmp}/redis.sock?db=0"
                port = free_port()
                server = start_server([py, "-m", "optimizer.bandit.cli_serve", "serve", "--store", store, "--port",
                                       str(port), "--api-key", API_KEY, "--workers", str(workers), "--log-level",
                                       "warning"], port, {"PYTHONUNBUFFERED": "1"})
                try:
                    create_campaign(port)
                    throughput(port, "/v1/campaigns/bench/choose", b"{}", clients=2, seconds=0.5)  # warm-up
                    only = throughput(port, "/v1/campaigns/bench/choose", b"{}", clients=clients, seconds=seconds)
                    mixed = mixed_throughput(port, clients=clients, seconds=seconds)
                finally:
                    stop_server(server)
                rows.append((workers, kind, only, mixed))
                print(f"compare: {kind:6s} workers={workers} clients={clients} choose-only {only['rps']:.0f}/s "
                      f"(errors {only['errors']}), choose+reward {mixed['rps']:.0f} choose/s (errors {mixed['errors']})",
                      flush=True)
    finally:
        redis_proc.terminate()
        redis_proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    by = {(w, k): (o["rps"], m["rps"]) for w, k, o, m in rows}
    print("choose/s (ratio to SQLite): workers | choose only: sqlite, redis tcp, redis unix "
          "| choose + reward: sqlite, redis tcp, redis unix")
    for w in worker_counts:
        (so, sm), (ro, rm), (uo, um) = (by[(w, k)] for k in kinds)
        print(f"{w:2d} | {so:6.0f}  {ro:6.0f} ({ro / so:4.2f})  {uo:6.0f} ({uo / so:4.2f}) "
              f"| {sm:6.0f}  {rm:6.0f} ({rm / sm:4.2f})  {um:6.0f} ({um / sm:4.2f})")
    w0 = worker_counts[0]
    print(f"scaling of choose-only choose/s vs {w0} worker(s): " + "; ".join(
        f"{k} " + ", ".join(f"{w}w x{by[(w, k)][0] / by[(w0, k)][0]:.2f}" for w in worker_counts) for k in kinds))
    print(f"cores={os.cpu_count()} load average {os.getloadavg()[0]:.2f} (clients and servers share these cores); "
          f"redis-server nice {redis_nice}")


def throughput(port: int, path: str, body: bytes, clients: int, seconds: float) -> dict:
    """Closed-loop requests/s with ``clients`` processes, one connection each."""
    request = _request_bytes(path, body)
    return _run_clients(_closed_loop, (port, request, seconds), clients)


def _open_loop(port: int, request: bytes, rate: float, seconds: float, start_at: float, nodelay: bool,
               split: bool, out: mp.Queue) -> None:
    conn = RawConnection(port, nodelay=nodelay, split_writes=split)
    interval = 1.0 / rate
    n = int(seconds * rate)
    lat, sched, errors, behind = [], [], 0, 0
    for k in range(n):
        due = start_at + k * interval
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        else:
            behind += 1
        t = time.perf_counter()
        try:
            status = conn.call(request)
        except OSError:
            errors += 1
            conn = RawConnection(port, nodelay=nodelay, split_writes=split)
            continue
        end = time.perf_counter()
        lat.append(end - t)  # from the send
        sched.append(end - due)  # from the schedule: a late start (slow previous answer) counts too
        errors += status != 200
    conn.close()
    out.put((lat, sched, errors, behind))


def latency(port: int, path: str, body: bytes, rate: float, seconds: float, connections: int,
            nodelay: bool = True, split: bool = True) -> dict:
    """Open-loop latency at ``rate`` requests/s over ``connections`` connections (processes)."""
    request = _request_bytes(path, body)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    start_at = time.perf_counter() + 0.3
    procs = []
    for i in range(connections):
        offset = i / rate  # interleave the connections' schedules
        procs.append(ctx.Process(target=_open_loop, args=(
            port, request, rate / connections, seconds, start_at + offset, nodelay, split, q)))
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    lat = sorted(x for r in results for x in r[0])
    sched = sorted(x for r in results for x in r[1])
    if not lat:
        return {"requests": 0, "errors": sum(r[2] for r in results)}

    def pct(xs: list[float], p: float) -> float:
        return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000

    return {"requests": len(lat), "errors": sum(r[2] for r in results), "late_starts": sum(r[3] for r in results),
            "p50_ms": pct(lat, 0.50), "p99_ms": pct(lat, 0.99), "max_ms": lat[-1] * 1000,
            "p99_from_schedule_ms": pct(sched, 0.99)}


# ------------------------------------------------------------------------------- the servers
def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live children (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def measured(pid: int, fn, *args, **kwargs) -> dict:
    """Run a load function and add the server's CPU microseconds per request (load-independent)."""
    before = cpu_seconds(pid)
    out = fn(*args, **kwargs)
    used = cpu_seconds(pid) - before
    out["server_cpu_us_per_request"] = used / max(out["requests"], 1) * 1e6
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: list[str], port: int, env: dict | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})}, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                if s.recv(100).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
    raise RuntimeError("server did not start within 30 s")


def stop_server(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


_HELLO_APP = '''
import socket, sys, uvicorn
from fastapi import FastAPI
from fastapi.responses import Response
app = FastAPI()
@app.post("/hello")
async def hello():
    return Response(b'{"hello":"world"}', media_type="application/json")
@app.get("/health")
async def health():
    return {"status": "ok"}
port, workers, nodelay = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
from optimizer.bandit.cli_serve import bind_socket
sock = bind_socket("127.0.0.1", port)
if not nodelay:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
config = uvicorn.Config(app, log_level="warning", access_log=False)
uvicorn.Server(config).run(sockets=[sock])
'''

_NAGLE_SERVE = '''
import socket, sys
import asyncio.selector_events as se, asyncio.base_events as be
# turn Nagle back on: asyncio (and uvloop) set TCP_NODELAY on every accepted socket by default
be._set_nodelay = lambda sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
se.base_events._set_nodelay = be._set_nodelay
import optimizer.bandit.cli_serve as cs
orig = cs.bind_socket
def bind(host, port):
    s = orig(host, port)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
    return s
cs.bind_socket = bind
sys.argv = ["dmpopt-bandit", *sys.argv[1:]]
cs.app(prog_name="dmpopt bandit")
'''


def create_campaign(port: int) -> None:
    body = json.dumps({"campaign": {"name": "bench", "arms": [{"name": f"arm{i}"} for i in range(5)]},
                       "seed": 1}).encode()
    conn = RawConnection(port)
    status = conn.call(_request_bytes("/v1/campaigns", body))
    conn.close()
    if status != 201:
        raise RuntimeError(f"create campaign answered {status}")


def store_choose_us(url: str, n: int, **kwargs) -> tuple[float, float]:
    """Mean (wall, CPU) microseconds of ``store.choose`` in process (no HTTP), after 100 warm-ups.

    CPU time is this process's (the background checkpoint thread included)."""
    from optimizer.bandit.store_sqlite import SQLiteStore

    from optimizer.bandit.store import open_store

    if url.startswith("sqlite:///") and kwargs:
        st = SQLiteStore(url[len("sqlite:///"):], **kwargs)
    else:
        st = open_store(url)
    st.create_campaign({"name": "bench", "arms": [{"name": f"arm{i}"} for i in range(5)]}, seed=1)
    for _ in range(100):
        st.choose("bench")
    t, c = time.perf_counter(), time.process_time()
    for _ in range(n):
        st.choose("bench")
    out = ((time.perf_counter() - t) / n * 1e6, (time.process_time() - c) / n * 1e6)
    st.close()
    return out


def store_choose_tail(path: str, page_size: int, n: int) -> dict:
    """In-process ``store.choose`` latency distribution on a new SQLite file with ``page_size``
    (the service's settings: background checkpoints), and the WAL bytes written per call."""
    import sqlite3

    from optimizer.bandit.store_sqlite import SQLiteStore

    conn = sqlite3.connect(path)  # fix the page size before the store creates its schema
    conn.execute(f"PRAGMA page_size={page_size}")
    conn.execute("CREATE TABLE _size(a)")
    conn.execute("DROP TABLE _size")
    conn.commit()
    conn.close()
    st = SQLiteStore(path, background_checkpoint=True, wal_restart_bytes=1 << 40)  # no restarts: count bytes
    st.create_campaign({"name": "bench", "arms": [{"name": f"arm{i}"} for i in range(5)]}, seed=1)
    for _ in range(100):
        st.choose("bench")
    wal0 = os.path.getsize(path + "-wal")
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        st.choose("bench")
        lat.append(time.perf_counter() - t)
    wal_per_call = (os.path.getsize(path + "-wal") - wal0) / n
    st.close()
    lat.sort()
    return {"page_size": page_size, "mean_us": sum(lat) / n * 1e6, "p50_ms": lat[n // 2] * 1e3,
            "p99_ms": lat[int(0.99 * n)] * 1e3, "max_ms": lat[-1] * 1e3, "wal_bytes_per_call": wal_per_call}


def asgi_choose_us(n: int) -> tuple[float, float]:
    """CPU microseconds per choose through the ASGI app in process (memory store, no sockets):
    (fast path, the same request routed through FastAPI)."""
    import asyncio

    from optimizer.bandit.service import create_app
    from optimizer.bandit.service_http import Gate, Metrics
    from optimizer.bandit.store import open_store

    store = open_store("memory://", service=True)
    store.create_campaign({"name": "bench", "arms": [{"name": f"arm{i}"} for i in range(5)]}, seed=1)
    fast = create_app(store, API_KEY, expire_interval_seconds=0)
    slow = Gate(fast.app, API_KEY, fast.max_body_bytes, Metrics(), holder=None)  # no fast path
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/v1/campaigns/bench/choose", "raw_path": b"/v1/campaigns/bench/choose",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
             "headers": [(b"host", b"x"), (b"x-api-key", API_KEY.encode()), (b"content-type", b"application/json"),
                         (b"content-length", b"2")]}

    async def run() -> tuple[float, float]:
        inbox, outbox = asyncio.Queue(), asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})
        life = asyncio.create_task(fast({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put))
        await outbox.get()

        async def one(app) -> None:
            sent = []

            async def receive() -> dict:
                return {"type": "http.request", "body": b"{}", "more_body": False}

            async def send(message: dict) -> None:
                sent.append(message)

            await app(dict(scope), receive, send)
            if sent[0]["status"] != 200:
                raise RuntimeError(f"choose answered {sent[0]['status']}")

        out = []
        for app in (fast, slow):
            for _ in range(100):
                await one(app)
            c = time.process_time()
            for _ in range(n):
                await one(app)
            out.append((time.process_time() - c) / n * 1e6)
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await life
        return out[0], out[1]

    result = asyncio.run(run())
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (< 60 s in all)")
    parser.add_argument("--store", default="sqlite", choices=["sqlite", "memory", "redis"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--compare-stores", action="store_true",
                        help="only: SQLite vs Redis in the same run, 1/2/4 workers (issue #14), then exit")
    parser.add_argument("--worker-counts", default="1,2,4", help="worker counts for --compare-stores")
    parser.add_argument("--clients", type=int, default=8, help="client processes for --compare-stores")
    parser.add_argument("--redis-nice", type=int, default=0,
                        help="nice value of redis-server for --compare-stores (negative: more CPU share; needs root)")
    opts = parser.parse_args()
    if opts.compare_stores:
        compare_stores(3.0 if opts.quick else 8.0, [int(w) for w in opts.worker_counts.split(",")], opts.clients,
                       opts.redis_nice)
        return
    seconds = 3.0 if opts.quick else 10.0
    py = sys.executable
    env = {"PYTHONUNBUFFERED": "1"}
    tmp = Path(tempfile.mkdtemp(prefix="bench_bandit_"))
    redis_proc = None
    if opts.store == "sqlite":
        store = f"sqlite:///{tmp}/bench.db"
    elif opts.store == "redis":
        rport = free_port()
        redis_proc = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--dir", str(tmp),
                                       "--save", "", "--appendonly", "yes"], stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        store = f"redis://127.0.0.1:{rport}/0"
    else:
        store = "memory://"
    workers = 1 if opts.store == "memory" else opts.workers
    print(f"# bench_bandit_service: store={opts.store} workers={workers} seconds={seconds} cores={os.cpu_count()}")
    results = {}

    # store level, no HTTP: what a commit costs with SQLite's automatic checkpoints (fsync inside
    # some commits) versus checkpoints in a background thread (the service's setting)
    n = 1000 if opts.quick else 3000
    auto = store_choose_us(f"sqlite:///{tmp}/auto.db", n, background_checkpoint=False)
    background = store_choose_us(f"sqlite:///{tmp}/bg.db", n, background_checkpoint=True)
    memory = store_choose_us("memory://", n)
    print(f"store.choose in process, 5 arms, {n} calls, wall/CPU us: sqlite auto-checkpoint "
          f"{auto[0]:.0f}/{auto[1]:.0f}, sqlite background checkpoint {background[0]:.0f}/{background[1]:.0f}, "
          f"memory {memory[0]:.0f}/{memory[1]:.0f}; wall ratio auto/background {auto[0] / background[0]:.2f}")

    for page_size in (4096, 1024):
        r = store_choose_tail(f"{tmp}/tail{page_size}.db", page_size, 3 * n)
        print(f"store.choose in process, SQLite page_size {page_size}, {3 * n} calls: mean {r['mean_us']:.0f} us, "
              f"p50 {r['p50_ms']:.3f} ms, p99 {r['p99_ms']:.3f} ms, max {r['max_ms']:.1f} ms, "
              f"{r['wal_bytes_per_call']:.0f} WAL bytes per call")
    fast_us, slow_us = asgi_choose_us(n)
    print(f"ASGI choose in process (memory store), CPU us per request: fast path {fast_us:.0f}, "
          f"through FastAPI routing {slow_us:.0f}; ratio {slow_us / fast_us:.2f}")

    # baseline: bare FastAPI hello, 1 worker, same uvicorn
    port = free_port()
    hello = start_server([py, "-c", _HELLO_APP, str(port), "1", "1"], port, env)
    try:
        results["hello_1w_2clients"] = measured(hello.pid, throughput, port, "/hello", b"", clients=2, seconds=seconds)
        results["hello_1w"] = measured(hello.pid, throughput, port, "/hello", b"", clients=4, seconds=seconds)
    finally:
        stop_server(hello)

    port = free_port()
    serve = [py, "-m", "optimizer.bandit.cli_serve", "serve", "--store", store, "--port", str(port),
             "--api-key", API_KEY, "--workers", str(workers), "--log-level", "warning"]
    server = start_server(serve, port, env)
    try:
        create_campaign(port)
        path, body = "/v1/campaigns/bench/choose", b"{}"
        results["choose_warmup"] = throughput(port, path, body, clients=2, seconds=1.0)
        # as many client processes as cores, and twice that (on 2 cores the load generator competes
        # with the 2 workers for CPU: more clients is not more load)
        results["choose_throughput_2clients"] = measured(server.pid, throughput, port, path, body, clients=2,
                                                         seconds=seconds)
        results["choose_throughput"] = measured(server.pid, throughput, port, path, body, clients=4, seconds=seconds)
        results["choose_latency_1000rps"] = measured(server.pid, latency, port, path, body, rate=1000,
                                                     seconds=seconds, connections=4)
    finally:
        stop_server(server)

    # baseline for the latency: Nagle on, on both ends, client writing headers and body apart
    port = free_port()
    serve_nagle = [py, "-c", _NAGLE_SERVE, "serve", "--store", f"sqlite:///{tmp}/nagle.db", "--port", str(port),
                   "--api-key", API_KEY, "--workers", "1", "--log-level", "warning"]
    server = start_server(serve_nagle, port, env)
    try:
        create_campaign(port)
        results["choose_latency_nagle_on"] = latency(port, "/v1/campaigns/bench/choose", b"{}", rate=200,
                                                     seconds=min(seconds, 3.0), connections=2, nodelay=False)
    finally:
        stop_server(server)

    if redis_proc is not None:
        redis_proc.terminate()
        redis_proc.wait()
    shutil.rmtree(tmp, ignore_errors=True)
    for name, r in results.items():
        print(f"{name:28s} " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))
    tp = max(results["choose_throughput"]["rps"], results["choose_throughput_2clients"]["rps"])
    base = max(results["hello_1w"]["rps"], results["hello_1w_2clients"]["rps"])
    lat, nagle = results["choose_latency_1000rps"], results["choose_latency_nagle_on"]
    print(f"ratio choose/s (2 workers) vs bare hello (1 worker), best of 2 and 4 clients each: {tp / base:.2f}")
    print(f"ratio p99 Nagle-on / TCP_NODELAY: {nagle['p99_ms'] / lat['p99_ms']:.1f}")
    cpu = results["choose_throughput"]["server_cpu_us_per_request"]
    print(f"server CPU per choose {cpu:.0f} us -> {workers} worker(s) on {workers} idle core(s) would serve "
          f"~{workers * 1e6 / cpu:.0f}/s before client and kernel costs (an estimate, not a measurement)")
    ok_tp = tp >= 2000 and results["choose_throughput"]["errors"] == results["choose_throughput_2clients"]["errors"] == 0
    ok_lat = lat["p99_ms"] <= 5.0 and lat["errors"] == 0
    print(f"target >= 2000 choose/s, 0 errors: {'PASS' if ok_tp else 'FAIL'} ({tp:.0f}/s)")
    print(f"target p99 <= 5 ms at 1000/s, 0 errors: {'PASS' if ok_lat else 'FAIL'} ({lat['p99_ms']:.2f} ms)")


if __name__ == "__main__":
    main()
