"""``dmpopt bandit serve``: run the bandit HTTP service under uvicorn.

Mounted by the main CLI as the ``bandit`` group (``SUBAPPS`` entry ``("bandit",
"optimizer.bandit.cli_serve", ...)``); it also carries the policy library's ``simulate`` command,
so ``dmpopt bandit serve`` and ``dmpopt bandit simulate`` share one group. Also runnable alone:
``python -m optimizer.bandit.cli_serve serve --store ...``.

The listening socket is created here with ``TCP_NODELAY`` (Linux copies it onto every accepted
connection) so a response is never held back by Nagle's algorithm waiting for the client's
delayed ACK, the 40 ms stall seen with stock servers; asyncio and uvloop also set it per
connection. With ``--workers N > 1`` the socket is shared by N uvicorn worker processes.
Logs go to stderr; stdout stays empty.
"""

from __future__ import annotations

import os
import socket

import typer

app = typer.Typer(help="Bandit: serve decisions over HTTP, simulate policies.", no_args_is_help=True,
                  add_completion=False)

_LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "dmpopt": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket with SO_REUSEADDR and TCP_NODELAY (inherited by accepted sockets)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


@app.callback()
def _group() -> None:
    """Bandit: serve decisions over HTTP, simulate policies."""


@app.command()
def serve(
    store: str = typer.Option(
        ..., "--store", envvar="DMPOPT_BANDIT_STORE",
        help="Store URL: sqlite:///bandit.db (default kind), redis://host:6379/0, unix:///path/redis.sock?db=0 "
        "(Redis on this host), or memory:// (one worker only).",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8787, min=0, max=65535, help="TCP port."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes sharing the socket and the store."),
    api_key: str = typer.Option(
        None, "--api-key", envvar="DMPOPT_API_KEY", show_default=False,
        help="Key clients send in the X-API-Key header (or env DMPOPT_API_KEY). Required.",
    ),
    max_body_bytes: int = typer.Option(65536, min=1024, help="Larger request bodies are refused with 413."),
    expire_seconds: float = typer.Option(
        1.0, min=0.0, help="Interval between passes applying default rewards after the window (0: off)."
    ),
    decision_refresh_seconds: float = typer.Option(
        0.05, min=0.0, max=60.0,
        help="Decisions use a policy state at most this old (s); 0: always the newest (slower with Thompson).",
    ),
    log_level: str = typer.Option("info", help="Log level: critical, error, warning, info, debug (stderr)."),
    crash_pending: str = typer.Option(
        "default", "--crash-pending", envvar="DMPOPT_BANDIT_CRASH_PENDING",
        help="At startup, unrewarded decisions of workers that crashed: 'default' keeps them pending (default "
             "reward after the window, as if served); 'expire' closes them without a reward.",
    ),
    limits: str = typer.Option(
        None, "--limits", envvar="DMPOPT_BANDIT_LIMITS", show_default=False,
        help='Request cost limits as JSON, e.g. \'{"max_share_draw_values": 10000000}\' (see docs/bandit-service.md).',
    ),
) -> None:
    """Serve the bandit HTTP API (OpenAPI docs at /docs). Exit codes: 0 stopped, 1 bad option or store."""
    from optimizer.bandit.store import StoreError, open_store
    from optimizer.errors import DmpoptError

    if log_level.lower() not in ("critical", "error", "warning", "info", "debug"):
        _fail(f"--log-level is {log_level!r}; use one of critical, error, warning, info, debug.")
    log_level = log_level.lower()
    if not api_key:
        _fail("--api-key (or env DMPOPT_API_KEY) is missing; the service refuses to run without authentication.")
    if store.startswith("memory://") and workers > 1:
        _fail(f"--store memory:// cannot be shared by {workers} workers; use sqlite:///bandit.db or redis://.")
    if crash_pending not in ("default", "expire"):
        _fail(f"--crash-pending is {crash_pending!r}; use default or expire.")
    os.environ["DMPOPT_BANDIT_CRASH_PENDING"] = crash_pending
    if limits:
        from optimizer.bandit.limits import parse_limits

        try:
            parse_limits(limits, "--limits")
        except DmpoptError as exc:
            _fail(str(exc))
        os.environ["DMPOPT_BANDIT_LIMITS"] = limits
    try:
        open_store(store).close()  # fail fast, with a clear message, before forking workers
    except (DmpoptError, StoreError) as exc:
        _fail(str(exc))
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror}. Choose another --port or stop the other server.")
    os.environ["DMPOPT_BANDIT_STORE"] = store
    os.environ["DMPOPT_API_KEY"] = api_key
    os.environ["DMPOPT_BANDIT_MAX_BODY_BYTES"] = str(max_body_bytes)
    os.environ["DMPOPT_BANDIT_EXPIRE_SECONDS"] = str(expire_seconds)
    os.environ["DMPOPT_BANDIT_DECISION_REFRESH_SECONDS"] = str(decision_refresh_seconds)
    # the bound port (not --port): with --port 0 the system picks a free one, and this line says which
    url = f"http://{host}:{sock.getsockname()[1]}"
    typer.echo(f"dmpopt bandit service on {url} (OpenAPI docs at {url}/docs, {workers} worker(s)); Ctrl-C stops it",
               err=True)
    run_uvicorn(sock, workers, log_level)


def run_uvicorn(sock: socket.socket, workers: int, log_level: str) -> None:
    """Run ``optimizer.bandit.service:app_from_env`` on ``sock`` with ``workers`` processes."""
    import uvicorn

    import copy

    log_config = copy.deepcopy(_LOG_CONFIG)
    log_config["loggers"]["dmpopt"]["level"] = log_level.upper()
    config = uvicorn.Config(
        "optimizer.bandit.service:app_from_env",
        factory=True,
        workers=workers,
        log_level=log_level,
        log_config=log_config,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _include_simulate() -> None:
    """Make this app the whole ``dmpopt bandit`` group: add the policy library's ``simulate``.

    Two typer apps cannot both be mounted as ``bandit``; this keeps the main CLI to one line.
    """
    try:
        from optimizer.bandit.cli_simulate import simulate
    except ImportError:  # pragma: no cover - the library part is optional for the service
        return
    app.command("simulate")(simulate)


_include_simulate()


if __name__ == "__main__":  # pragma: no cover - exercised by the subprocess tests
    app(prog_name="dmpopt bandit")
