"""Test helpers for the bandit service tests: a private redis-server, service processes, ports.

Not a test module (no ``test_`` prefix). Everything runs on 127.0.0.1 under pytest's tmp_path and
is stopped by the fixtures that start it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REDIS_SERVER = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
API_KEY = "test-key-123"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server on a free loopback port with its files in ``folder``; ``stop()`` ends it."""

    def __init__(self, folder: Path):
        if REDIS_SERVER is None:  # pragma: no cover - the machine has it
            raise RuntimeError("redis-server is not installed")
        self.port = free_port()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.start()

    def start(self) -> None:
        """Start (or restart, after ``stop()``) the server on its port; its append-only file is reloaded."""
        folder = self.folder
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(folder),
             "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "yes",
             "--unixsocket", str(folder / "redis.sock"), "--unixsocketperm", "700"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        """The same server over its unix domain socket (``unix://`` URL, database 0)."""
        return f"unix://{self.folder / 'redis.sock'}?db=0"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
                self.proc.wait()


class ServiceProcess:
    """``python -m optimizer.bandit.cli_serve serve ...`` as a subprocess on a free port."""

    def __init__(self, store_url: str, workers: int = 1, port: int | None = None, extra: list[str] | None = None,
                 log_path: Path | None = None):
        self.port = port or free_port()
        self.store_url = store_url
        self.log_path = log_path
        args = [sys.executable, "-m", "optimizer.bandit.cli_serve", "serve", "--store", store_url,
                "--port", str(self.port), "--workers", str(workers), "--api-key", API_KEY,
                "--log-level", "warning", *(extra or [])]
        self._log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        # own session: kill -9 reaches the uvicorn supervisor and its workers, nothing else
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited with {self.proc.returncode}; log: {self.log_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"service did not answer /health within {timeout} s; log: {self.log_text()[-3000:]}")

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the service's process group and reap it."""
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:  # pragma: no cover
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.stdout_text = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
        if self.proc.stdout:
            self.proc.stdout.close()
        if hasattr(self._log, "close"):
            self._log.close()

    def stop(self) -> None:
        """Graceful stop (SIGTERM)."""
        self.kill(signal.SIGTERM)


class ThreadedService:
    """The app under a real uvicorn server in a thread of the test process (127.0.0.1, free port)."""

    def __init__(self, app: object):
        import uvicorn

        from optimizer.bandit.cli_serve import bind_socket

        self.port = free_port()
        self.sock = bind_socket("127.0.0.1", self.port)
        config = uvicorn.Config(app, log_level="error", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("threaded uvicorn did not start")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()
