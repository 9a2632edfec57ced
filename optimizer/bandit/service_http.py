"""HTTP plumbing of the bandit service: the ASGI gate (API key, body limit, metrics, fast path),
error bodies and their statuses, and the Prometheus text.

The gate is pure ASGI (not ``BaseHTTPMiddleware``, which costs a task and a stream copy per
request) and runs before FastAPI parses anything, so an unauthenticated or oversized request is
refused without its body being read or validated.

Fast path: ``POST /v1/campaigns/{name}/choose`` and ``POST /v1/rewards`` are answered by the gate
itself, with the same models, store calls and error bodies as the FastAPI routes (which stay
declared, for the OpenAPI document and as the reference implementation). Routing, dependency
solving and the response classes of FastAPI cost more CPU than the store call itself on these two
endpoints: the benchmark's in-process ASGI comparison measured 236 us per choose on the fast path
against 508 us through FastAPI (same run, memory store, a loaded machine).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import hmac
import time
from typing import Any

from fastapi.responses import Response

from optimizer.bandit.config import CAMPAIGN_NAME_PATTERN
from optimizer.bandit.service_models import EMPTY_CHOOSE, ChooseRequest, RewardRequest, parse_body
from optimizer.bandit.store import BanditStore, ConflictError, ExpiredDecisionError, NotFoundError, StoreError
from optimizer.errors import DataError, DmpoptError, ScenarioError
from optimizer.validation import format_path

API_KEY_HEADER = "X-API-Key"
PUBLIC_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
_CHOOSE_ROUTE = "/v1/campaigns/{name}/choose"
_REWARD_ROUTE = "/v1/rewards"
_NAME_OK = re.compile(CAMPAIGN_NAME_PATTERN).fullmatch


def json_bytes(obj: Any) -> bytes:
    """Compact JSON (NaN refused: JSON has none)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def json_response(obj: Any, status: int = 200) -> Response:
    """A JSON response for the FastAPI routes."""
    return Response(json_bytes(obj), status, media_type="application/json")


def error_bytes(status: int, kind: str, message: str, problems: list[str] | None = None) -> bytes:
    """The one error body: ``{"error": {"status", "type", "message", "problems"}}``."""
    return json_bytes({"error": {"status": status, "type": kind, "message": message, "problems": problems or []}})


def error_response(status: int, kind: str, message: str, problems: list[str] | None = None) -> Response:
    """:func:`error_bytes` as a response for the FastAPI routes."""
    return Response(error_bytes(status, kind, message, problems), status, media_type="application/json")


def status_of(exc: DmpoptError) -> int:
    """HTTP status of a user error (see the table in :mod:`optimizer.bandit.service`)."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ExpiredDecisionError):
        return 410
    from optimizer.bandit.policies.base import BudgetExhaustedError

    if isinstance(exc, (ConflictError, BudgetExhaustedError)):
        return 409
    if isinstance(exc, StoreError):
        return 503
    if isinstance(exc, (ScenarioError, DataError, ValueError)):
        return 422
    return 400


def describe_errors(errors: list[dict[str, Any]]) -> tuple[int, str, list[str]]:
    """Pydantic/FastAPI request errors -> (status, summary, one line per defect)."""
    lines = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        kind = err.get("type", "")
        if kind == "json_invalid":
            detail = (err.get("ctx") or {}).get("error", "invalid JSON")
            where = f" at character {loc[1]}" if len(loc) > 1 else ""
            return 400, f"request body is not valid JSON: {detail}{where}.", []
        where = loc[0] if loc else "body"
        path = format_path(tuple(p for p in loc[1:] if not (isinstance(p, str) and p.startswith("function-"))))
        label = path if where == "body" else f"{where} parameter {path}"
        if label == "(top level)":
            label = "the request body"
        value = err.get("input")
        msg = str(err.get("msg", "invalid value"))
        msg = (msg[0].lower() + msg[1:]).removeprefix("value error, ")
        if kind == "missing":
            lines.append(f"{label} is missing; it is required." if label != "the request body"
                         else "the request body is missing; send a JSON object.")
        elif kind == "extra_forbidden":
            lines.append(f"{label} is not a known field; remove it (see /docs for the allowed fields).")
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            lines.append(f"{label} is {_short(value)}; expected a JSON object.")
        else:
            if isinstance(value, float) and not math.isfinite(value):
                msg = "numbers must be finite (no NaN or infinity)"
            lines.append(f"{label} is {_short(value)}; {msg}.")
    n = len(lines)
    return 422, f"the request has {n} invalid field{'s' if n != 1 else ''}: " + " ".join(lines), lines


def _short(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Metrics:
    """Per-process request counters and latency sums for ``/metrics`` (Prometheus text)."""

    BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.latency: dict[str, list[float]] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        key = (route, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        h = self.latency.get(route)
        if h is None:
            h = self.latency[route] = [0.0] * (len(self.BUCKETS) + 2)  # buckets..., +Inf count, sum
        for i, b in enumerate(self.BUCKETS):
            if seconds <= b:
                h[i] += 1
        h[-2] += 1
        h[-1] += seconds


# ------------------------------------------------------------------------------- middleware
class Gate:
    """Pure ASGI middleware: API key, body size limit, per-route metrics, and the fast path.

    Parameters
    ----------
    app: the FastAPI app.
    api_key: required ``X-API-Key`` value (None: no check).
    max_body_bytes: larger bodies are answered 413.
    metrics: where request counts and latencies are recorded.
    holder: dict whose ``"store"`` key is set by the app's lifespan (the fast path's store).
    """

    def __init__(self, app: Any, api_key: str | None, max_body_bytes: int, metrics: Metrics,
                 holder: dict[str, Any] | None = None):
        self.app = app
        self.api_key = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.holder = holder
        self._batcher: ChooseBatcher | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        given_key = content_length = None
        for k, v in scope["headers"]:  # one pass over the headers for both checks
            if k == b"x-api-key":
                given_key = v
            elif k == b"content-length":
                content_length = v
        status_box = [500]
        route = None
        try:
            if self.api_key is not None and path not in PUBLIC_PATHS:
                refusal = self._refuse(given_key)
                if refusal is not None:
                    status_box[0] = 401
                    await _send_raw(send, 401, refusal)
                    return
            body, too_big = await self._read_body(content_length, receive)
            if too_big:
                status_box[0] = 413
                await _send_raw(send, 413, error_bytes(
                    413, "payload_too_large",
                    f"request body is larger than {self.max_body_bytes} bytes; send smaller batches "
                    "(choose/batch takes at most 1,000 requests).",
                ))
                return
            if scope["method"] == "POST" and self.holder is not None and "store" in self.holder:
                if path == _REWARD_ROUTE:
                    route = _REWARD_ROUTE
                    status_box[0], payload = await self.holder["runner"](_fast_reward, self.holder["store"], body)
                    await _send_raw(send, status_box[0], payload)
                    return
                if path.startswith("/v1/campaigns/") and path.endswith("/choose"):
                    name = path[14:-7]
                    if _NAME_OK(name):  # else FastAPI's route answers 422 naming the rule
                        route = _CHOOSE_ROUTE
                        status_box[0], payload = await self._fast_choose(name, body)
                        await _send_raw(send, status_box[0], payload)
                        return

            async def send_wrapper(message: dict) -> None:
                if message["type"] == "http.response.start":
                    status_box[0] = message["status"]
                await send(message)

            await self.app(scope, _replay(body), send_wrapper)
        finally:
            if route is None:
                # route templates only (never raw paths) keep the metric's label set bounded
                route = getattr(scope.get("route"), "path", None) or "(no route)"
            self.metrics.observe(route, status_box[0], time.perf_counter() - started)

    async def _fast_choose(self, name: str, body: bytes) -> tuple[int, bytes]:
        store = self.holder["store"]
        runner = self.holder.get("runner")
        if self._batcher is None or self._batcher.store is not store or self._batcher.runner is not runner:
            self._batcher = ChooseBatcher(store, runner)
        return await _choose_response(self._batcher, name, body)

    def _refuse(self, given: bytes | None) -> bytes | None:
        if given is None:
            return error_bytes(401, "unauthorized", f"the {API_KEY_HEADER} header is missing; send the service's API key.")
        # constant time in the key's content (hmac.compare_digest), so timing does not leak a prefix
        if not hmac.compare_digest(given, self.api_key):
            return error_bytes(401, "unauthorized", f"the {API_KEY_HEADER} header does not match the service's API key.")
        return None

    async def _read_body(self, content_length: bytes | None, receive: Any) -> tuple[bytes, bool]:
        if content_length is not None:
            try:
                if int(content_length) > self.max_body_bytes:
                    return b"", True
            except ValueError:
                pass
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks), False


def _replay(body: bytes) -> Any:
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the app does not read past the body; wait like a live socket
        return {"type": "http.disconnect"}  # pragma: no cover

    return receive


class ChooseBatcher:
    """Group commit for ``choose``: requests that arrive in the same event-loop turn share one store
    transaction (``choose_batch``), and each gets its answer after that transaction committed.

    With k concurrent requests this pays the transaction overhead (lock, BEGIN, reading the
    campaign row, COMMIT; about half of a SQLite ``choose``) once instead of k times; a lone
    request is served alone, with no added wait (the batch is flushed with ``call_soon``, not on a
    timer). ``choose_batch`` is all-or-nothing, so if a batch fails every request is retried alone
    and gets its own answer or error. Decision numbers follow arrival order, as without batching.

    At most one batch is in flight per worker: requests arriving while the store thread serves a
    batch wait for it and then form the next batch (at most :attr:`max_batch` per campaign), instead
    of queueing as many small batches behind it. A batch's cost is mostly fixed per call (two
    round trips for Redis, one transaction for SQLite), so under load each worker's batches grow
    with its concurrency rather than its store calls (issue #14: Redis choose/s per worker had been
    bounded by one round-trip pair per arriving loop turn).
    """

    #: most requests of one campaign in one ``choose_batch`` call (the rest wait for the next batch)
    max_batch = 100

    def __init__(self, store: BanditStore, runner: Any = None):
        self.store = store
        self.runner = runner  # StoreRunner: the store calls run on its thread (None: inline, tests)
        self.pending: dict[str, list[tuple[dict[str, Any], asyncio.Future]]] = {}
        self.scheduled = False
        self.in_flight = False

    async def choose(self, name: str, request: dict[str, Any]) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.setdefault(name, []).append((request, future))
        if not self.scheduled and not self.in_flight:
            self.scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _take(self) -> dict[str, list[tuple[dict[str, Any], asyncio.Future]]]:
        """The next batch: up to :attr:`max_batch` pending requests per campaign, in arrival order."""
        batch: dict[str, list[tuple[dict[str, Any], asyncio.Future]]] = {}
        for name in list(self.pending):
            items = self.pending[name]
            batch[name], rest = items[: self.max_batch], items[self.max_batch:]
            if rest:
                self.pending[name] = rest
            else:
                del self.pending[name]
        return batch

    def _flush(self) -> None:
        self.scheduled = False
        if self.in_flight or not self.pending:
            return
        pending = self._take()
        if self.runner is None:
            self._serve(pending, _settle)
            return
        loop = asyncio.get_running_loop()

        def settle(future: asyncio.Future, result: Any = None, exc: BaseException | None = None) -> None:
            loop.call_soon_threadsafe(_settle, future, result, exc)

        def serve() -> None:  # on the store thread
            try:
                self._serve(pending, settle)
            finally:  # queued after every settle of this batch
                try:
                    loop.call_soon_threadsafe(self._served)
                except RuntimeError:  # the loop closed meanwhile (shutdown): nothing left to send
                    pass

        self.in_flight = True
        try:
            self.runner.submit(serve)
        except BaseException:
            self.in_flight = False
            raise

    def _served(self) -> None:
        """The batch in flight is done: send what arrived meanwhile as the next batch."""
        self.in_flight = False
        self._flush()

    def _serve(self, pending: dict[str, list[tuple[dict[str, Any], asyncio.Future]]], _settle: Any) -> None:
        """Make the decisions (on the store thread when there is a runner) and settle the futures."""
        for name, items in pending.items():
            try:
                if len(items) == 1:
                    raise _Single
                records = self.store.choose_batch(name, [req for req, _ in items])
            except (_Single, DmpoptError):
                for req, future in items:
                    try:
                        result = self.store.choose(name, **req)
                    except Exception as exc:  # noqa: BLE001 - handed to the request that caused it
                        _settle(future, exc=exc)
                    else:
                        _settle(future, result)
                continue
            except Exception as exc:  # noqa: BLE001 - a store failure: every request of the batch sees it
                for _, future in items:
                    _settle(future, exc=exc)
                continue
            for (_, future), record in zip(items, records):
                _settle(future, record)


def _settle(future: asyncio.Future, result: Any = None, exc: BaseException | None = None) -> None:
    """Resolve a request's future unless it was cancelled meanwhile (its decision stays logged,
    unacknowledged, like any request whose client went away)."""
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class _Single(Exception):
    """Internal: a batch of one is served by ``store.choose``."""


async def _choose_response(batcher: ChooseBatcher, name: str, raw: bytes) -> tuple[int, bytes]:
    """``POST /v1/campaigns/{name}/choose`` without FastAPI (same models, store call, errors)."""
    try:
        b = parse_body(ChooseRequest, raw) if raw.strip() else EMPTY_CHOOSE
        d = await batcher.choose(name, {"context": b.context, "eligible": b.eligible, "user_id": b.user_id})
    except Exception as exc:  # noqa: BLE001 - mapped exactly like the FastAPI exception handlers
        return exception_payload(exc)
    return 200, json_bytes(d.to_dict())


def _fast_reward(store: BanditStore, raw: bytes) -> tuple[int, bytes]:
    """``POST /v1/rewards`` without FastAPI (same models, store call, errors)."""
    try:
        b = parse_body(RewardRequest, raw)
        out = store.reward(b.decision_id, b.reward, b.cost)
    except Exception as exc:  # noqa: BLE001 - mapped exactly like the FastAPI exception handlers
        return exception_payload(exc)
    return 200, json_bytes(out.to_dict())


def exception_payload(exc: Exception) -> tuple[int, bytes]:
    """``(status, error body)`` of a request that raised ``exc`` (anything unexpected is re-raised)."""
    from fastapi.exceptions import RequestValidationError

    if isinstance(exc, RequestValidationError):
        status, message, problems = describe_errors(list(exc.errors()))
        return status, error_bytes(status, "invalid_json" if status == 400 else "validation_error", message, problems)
    if is_store_outage(exc):
        return 503, error_bytes(503, "store_unavailable",
                                f"the store did not answer ({type(exc).__name__}: {exc}); retry after a moment.")
    if isinstance(exc, DmpoptError):
        problems = list(getattr(exc, "problems", []) or [])
        status = status_of(exc)
        return status, error_bytes(status, type(exc).__name__,
                                   str(exc).split("\n")[0] if problems else str(exc), problems)
    raise exc


def is_store_outage(exc: BaseException) -> bool:
    """True for a Redis connection/timeout error (the backend is down or unreachable: HTTP 503)."""
    try:
        import redis
    except ImportError:  # pragma: no cover - redis is a dependency of the service
        return False
    return isinstance(exc, (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError))


def exception_response(exc: Exception) -> Response:
    """:func:`exception_payload` as a response for the FastAPI exception handlers."""
    status, body = exception_payload(exc)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return Response(body, status, media_type="application/json", headers=headers)


#: ``Retry-After`` (seconds) sent with every 503: the store was unavailable or locked; nothing changed.
RETRY_AFTER_SECONDS = 1


async def _send_raw(send: Any, status: int, body: bytes) -> None:
    """A complete JSON response as two ASGI messages (no Response object on the fast path)."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 503:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def redact(url: str) -> str:
    """Hide a password in ``redis://user:pass@host`` or ``unix:///path.sock?password=...``."""
    import re

    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + re.sub(r"(?i)(password=)[^&]*", r"\1***", rest)


def render_metrics(store: BanditStore, metrics: Metrics, worker: str, expiry: Any = None,
                   campaigns: Any = None) -> str:
    """Prometheus text. ``campaigns``: the store's campaigns read beforehand (the service reads them
    on its store thread), ``False`` if that read failed, ``None`` to read them here."""
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    out = []
    out.append("# HELP dmpopt_bandit_decisions_total Decisions logged (store-wide).")
    out.append("# TYPE dmpopt_bandit_decisions_total counter")
    rewards, defaults, reward_sum, pending = [], [], [], []
    store_up = 0 if campaigns is False else 1
    if campaigns is None:
        try:
            campaigns = store.list_campaigns()
        except Exception:  # noqa: BLE001 - the store being down is itself a metric; the rest still renders
            campaigns, store_up = [], 0
    elif campaigns is False:
        campaigns = []
    for c in campaigns:
        for arm, s in c.arm_to_stats.items():
            lab = f'campaign="{esc(c.name)}",arm="{esc(arm)}"'
            out.append(f"dmpopt_bandit_decisions_total{{{lab}}} {s.n_decisions}")
            rewards.append(f"dmpopt_bandit_rewards_total{{{lab}}} {s.n_rewards}")
            defaults.append(f"dmpopt_bandit_default_rewards_total{{{lab}}} {s.n_default_rewards}")
            reward_sum.append(f"dmpopt_bandit_reward_sum{{{lab}}} {s.reward_sum!r}")
        pending.append(f'dmpopt_bandit_pending_decisions{{campaign="{esc(c.name)}"}} {c.n_pending}')
    out += ["# HELP dmpopt_bandit_rewards_total Rewards applied, posted and default (store-wide).",
            "# TYPE dmpopt_bandit_rewards_total counter", *rewards,
            "# HELP dmpopt_bandit_default_rewards_total Default rewards applied after the window (store-wide).",
            "# TYPE dmpopt_bandit_default_rewards_total counter", *defaults,
            "# HELP dmpopt_bandit_reward_sum Sum of applied rewards, reward unit (store-wide).",
            "# TYPE dmpopt_bandit_reward_sum counter", *reward_sum,
            "# HELP dmpopt_bandit_pending_decisions Decisions waiting for a reward (store-wide).",
            "# TYPE dmpopt_bandit_pending_decisions gauge", *pending]
    w = esc(worker)
    out += ["# HELP dmpopt_bandit_store_up 1 when this worker could read the store while rendering, else 0.",
            "# TYPE dmpopt_bandit_store_up gauge", f'dmpopt_bandit_store_up{{worker="{w}"}} {store_up}']
    if expiry is not None:  # the default-reward job of this worker (service_jobs.ExpiryJobStatus)
        lab = f'worker="{w}"'
        out += ["# HELP dmpopt_bandit_default_reward_job_last_success_timestamp_seconds End of the job's last "
                "successful run, Unix seconds (0: never).",
                "# TYPE dmpopt_bandit_default_reward_job_last_success_timestamp_seconds gauge",
                f"dmpopt_bandit_default_reward_job_last_success_timestamp_seconds{{{lab}}} {expiry.last_success_at or 0.0!r}",
                "# HELP dmpopt_bandit_default_reward_job_backlog Decisions past their window without a reward, at the last run.",
                "# TYPE dmpopt_bandit_default_reward_job_backlog gauge",
                f"dmpopt_bandit_default_reward_job_backlog{{{lab}}} {-1 if expiry.backlog is None else expiry.backlog}",
                "# HELP dmpopt_bandit_default_reward_job_consecutive_failures Failures since the last success (0: healthy).",
                "# TYPE dmpopt_bandit_default_reward_job_consecutive_failures gauge",
                f"dmpopt_bandit_default_reward_job_consecutive_failures{{{lab}}} {expiry.consecutive_failures}",
                "# HELP dmpopt_bandit_default_reward_job_failures_total Failed runs of the job.",
                "# TYPE dmpopt_bandit_default_reward_job_failures_total counter",
                f"dmpopt_bandit_default_reward_job_failures_total{{{lab}}} {expiry.n_failures_total}",
                "# HELP dmpopt_bandit_default_rewards_applied_total Default rewards applied by this worker's job.",
                "# TYPE dmpopt_bandit_default_rewards_applied_total counter",
                f"dmpopt_bandit_default_rewards_applied_total{{{lab}}} {expiry.n_applied_total}"]
    out += ["# HELP dmpopt_bandit_http_requests_total HTTP requests answered by this worker.",
            "# TYPE dmpopt_bandit_http_requests_total counter"]
    for (route, status), n in sorted(metrics.counts.items()):
        out.append(f'dmpopt_bandit_http_requests_total{{worker="{w}",route="{esc(route)}",status="{status}"}} {n}')
    out += ["# HELP dmpopt_bandit_http_request_seconds Request latency in this worker, seconds.",
            "# TYPE dmpopt_bandit_http_request_seconds histogram"]
    for route, h in sorted(metrics.latency.items()):
        lab = f'worker="{w}",route="{esc(route)}"'
        for b, n in zip(Metrics.BUCKETS, h):
            out.append(f'dmpopt_bandit_http_request_seconds_bucket{{{lab},le="{b}"}} {int(n)}')
        out.append(f'dmpopt_bandit_http_request_seconds_bucket{{{lab},le="+Inf"}} {int(h[-2])}')
        out.append(f"dmpopt_bandit_http_request_seconds_count{{{lab}}} {int(h[-2])}")
        out.append(f"dmpopt_bandit_http_request_seconds_sum{{{lab}}} {h[-1]!r}")
    return "\n".join(out) + "\n"
