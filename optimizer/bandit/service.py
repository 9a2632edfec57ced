"""The bandit HTTP JSON service (FastAPI): campaigns, choose, rewards, state, shares, health, metrics.

Build the app with :func:`create_app` (``store`` is a URL or an open store); ``dmpopt bandit
serve`` runs it under uvicorn (see :mod:`optimizer.bandit.cli_serve`). Endpoints (all JSON):

==========================================  ============================================  =====
``POST /v1/campaigns``                      create a campaign (arms, policy, guardrails)   201
``GET  /v1/campaigns``                      list campaigns with their counters             200
``GET  /v1/campaigns/{name}``               one campaign                                   200
``POST /v1/campaigns/{name}/choose``        one decision (context, eligible, user_id)      200
``POST /v1/campaigns/{name}/choose/batch``  up to 1,000 decisions in one transaction        200
``POST /v1/rewards``                        reward a decision (exactly once)               200
``GET  /v1/campaigns/{name}/state``         policy state and counters                      200
``GET  /v1/campaigns/{name}/shares``        allocation shares for the next period          200
``GET  /v1/campaigns/{name}/decisions``     the decision log joined with rewards           200
``GET  /health``                            liveness, store, recovery report (no key)      200
``GET  /metrics``                           Prometheus text format                         200
``GET  /docs``, ``/openapi.json``           OpenAPI documentation (no key)                 200
==========================================  ============================================  =====

Errors are ``{"error": {"status", "type", "message", "problems"}}`` with: 400 malformed JSON,
401 missing or wrong ``X-API-Key``, 404 unknown campaign/decision/route, 409 campaign exists or
budget exhausted, 410 reward after the window (the default reward stands), 413 body larger than
``max_body_bytes`` (64 KiB default), 422 a field with a bad value (NaN, out of range, unknown
arm, wrong context length, unknown key), 503 store unavailable. A rejected request changes nothing.

A second reward for the same ``decision_id`` answers **200 with ``"duplicate": true``** and is not
counted: the first reward stands. (409 would make an at-least-once sender treat its own retry
as a failure.)

Handlers are ``async`` and call the store directly: a store call takes ~0.1-0.4 ms, less than
handing it to a thread pool costs, and each worker process has one store connection. Scale with
``--workers``. Every write is committed before the response is sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import secrets
import socket
import time
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from optimizer.bandit.config import CampaignConfig
from optimizer.bandit.store import (
    BanditStore,
    ConflictError,
    ExpiredDecisionError,
    NotFoundError,
    StoreError,
    open_store,
)
from optimizer.errors import DataError, DmpoptError, ScenarioError
from optimizer.validation import format_path

logger = logging.getLogger("dmpopt.bandit.service")

#: Default limit on a request body, bytes.
DEFAULT_MAX_BODY_BYTES = 64 * 1024
API_KEY_HEADER = "X-API-Key"
_PUBLIC_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
_FROZEN = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
_CampaignName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$",
                                    description="Campaign name.")]


# ------------------------------------------------------------------------------ request models
class CreateCampaignRequest(BaseModel):
    """Body of ``POST /v1/campaigns``."""

    model_config = _FROZEN

    campaign: CampaignConfig = Field(description="The campaign: name, arms, policy, guardrails, reward settings.")
    seed: int | None = Field(
        None, ge=0, le=2**63 - 1,
        description="Seed of the campaign's random streams; omitted: drawn and returned in the response.",
    )


class ChooseRequest(BaseModel):
    """Body of ``POST /v1/campaigns/{name}/choose`` (all fields optional)."""

    model_config = _FROZEN

    context: list[float] | None = Field(
        None, max_length=1000, description="Request features for contextual policies (length context_dim)."
    )
    eligible: list[str] | None = Field(
        None, min_length=1, max_length=1000, description="Arms allowed for this request (default: all)."
    )
    user_id: str | None = Field(
        None, min_length=1, max_length=200, description="User id for sticky assignment (guardrails.sticky)."
    )


class ChooseBatchRequest(BaseModel):
    """Body of ``POST /v1/campaigns/{name}/choose/batch``."""

    model_config = _FROZEN

    requests: list[ChooseRequest] = Field(
        min_length=1, max_length=1000, description="1 to 1,000 choose requests, decided in one transaction."
    )


class RewardRequest(BaseModel):
    """Body of ``POST /v1/rewards``."""

    model_config = _FROZEN

    decision_id: str = Field(min_length=1, max_length=64, description="The decision_id returned by choose.")
    reward: float = Field(description="The observed reward: 0 or 1 for binary campaigns, else within reward_bounds.")
    cost: float | None = Field(
        None, ge=0, description="Money spent on this action, campaign currency (default: the arm's cost_per_action)."
    )


# ----------------------------------------------------------------------------- response models
class DecisionOut(BaseModel):
    """One decision."""

    decision_id: str = Field(description="Id to post the reward with.")
    campaign: str = Field(description="Campaign name.")
    seq: int = Field(description="1-based decision number within the campaign.")
    arm: str = Field(description="The arm to serve.")
    propensity: float = Field(description="Probability (0-1) the policy had of choosing this arm.")
    arm_to_probability: dict[str, float] = Field(description="That probability for every arm.")
    context: list[float] | None = Field(description="The request's features, if any.")
    user_id: str | None = Field(description="The request's user id, if any.")
    created_at: float = Field(description="Unix seconds.")
    expires_at: float = Field(description="Unix seconds after which the default reward applies.")
    state_version: int = Field(description="Policy state version the decision was drawn from.")


class DecisionBatchOut(BaseModel):
    """Decisions of a batch, in request order."""

    decisions: list[DecisionOut]


class RewardOut(BaseModel):
    """Outcome of a posted reward."""

    decision_id: str
    campaign: str
    arm: str
    reward: float = Field(description="The reward stored for the decision (the first one for a duplicate).")
    cost: float = Field(description="Cost stored with it, campaign currency.")
    duplicate: bool = Field(description="True: the decision already had a reward; this one was ignored.")
    is_default: bool = Field(description="True: the stored reward is the campaign's default (window expired).")
    state_version: int = Field(description="Policy state version after the reward.")


class ErrorBody(BaseModel):
    """The ``error`` object of every 4xx/5xx answer."""

    status: int
    type: str
    message: str
    problems: list[str] = Field(default_factory=list)


class ErrorOut(BaseModel):
    """Every error answer."""

    error: ErrorBody


_ERRORS = {code: {"model": ErrorOut} for code in (400, 401, 404, 409, 410, 413, 422, 503)}


# --------------------------------------------------------------------------------- utilities
def _json(obj: Any, status: int = 200) -> Response:
    return Response(json.dumps(obj, separators=(",", ":"), allow_nan=False).encode(), status,
                    media_type="application/json")


def _error(status: int, kind: str, message: str, problems: list[str] | None = None) -> Response:
    return _json({"error": {"status": status, "type": kind, "message": message, "problems": problems or []}}, status)


def _status_of(exc: DmpoptError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ExpiredDecisionError):
        return 410
    if isinstance(exc, ConflictError) or type(exc).__name__ == "BudgetExhaustedError":
        return 409
    if isinstance(exc, StoreError):
        return 503
    if isinstance(exc, (ScenarioError, DataError, ValueError)):
        return 422
    return 400


def _describe(errors: list[dict[str, Any]]) -> tuple[int, str, list[str]]:
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
        value = err.get("input")
        msg = str(err.get("msg", "invalid value"))
        msg = (msg[0].lower() + msg[1:]).removeprefix("value error, ")
        if kind == "missing":
            lines.append(f"{label} is missing; it is required." if path != "(top level)"
                         else "the request body is missing; send a JSON object.")
        elif kind == "extra_forbidden":
            lines.append(f"{label} is not a known field; remove it (see /docs for the allowed fields).")
        elif kind == "model_attributes_type" or kind == "dict_type":
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


class _Metrics:
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
class _Gate:
    """Pure ASGI middleware: API key, body size limit, per-route metrics.

    Runs before FastAPI parses anything, so an unauthenticated or oversized request is refused
    without reading or validating its body. (Pure ASGI, not ``BaseHTTPMiddleware``, which costs
    a task and a stream copy per request.)
    """

    def __init__(self, app: Any, api_key: str | None, max_body_bytes: int, metrics: _Metrics):
        self.app = app
        self.api_key = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_box = [500]

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            await send(message)

        path = scope["path"]
        try:
            refusal = self._refuse(scope, path)
            if refusal is not None:
                await _send_response(send_wrapper, refusal)
                return
            body, too_big = await self._read_body(scope, receive)
            if too_big:
                await _send_response(send_wrapper, _error(
                    413, "payload_too_large",
                    f"request body is larger than {self.max_body_bytes} bytes; send smaller batches "
                    "(choose/batch takes at most 1,000 requests).",
                ))
                return
            await self.app(scope, _replay(body), send_wrapper)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", None) or ("(unmatched)" if status_box[0] == 404 else path)
            self.metrics.observe(name, status_box[0], time.perf_counter() - started)

    def _refuse(self, scope: dict, path: str) -> Response | None:
        if self.api_key is None or path in _PUBLIC_PATHS:
            return None
        given = None
        for k, v in scope["headers"]:
            if k == b"x-api-key":
                given = v
                break
        if given is None:
            return _error(401, "unauthorized", f"the {API_KEY_HEADER} header is missing; send the service's API key.")
        if not secrets.compare_digest(given, self.api_key):
            return _error(401, "unauthorized", f"the {API_KEY_HEADER} header does not match the service's API key.")
        return None

    async def _read_body(self, scope: dict, receive: Any) -> tuple[bytes, bool]:
        for k, v in scope["headers"]:
            if k == b"content-length":
                try:
                    if int(v) > self.max_body_bytes:
                        return b"", True
                except ValueError:
                    pass
                break
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
        return b"".join(chunks), False


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


async def _send_response(send: Any, response: Response) -> None:
    await send({"type": "http.response.start", "status": response.status_code,
                "headers": [(k.encode(), v.encode()) for k, v in response.headers.items()]})
    await send({"type": "http.response.body", "body": response.body})


# ---------------------------------------------------------------------------------- the app
def create_app(
    store: str | BanditStore,
    api_key: str | None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    expire_interval_seconds: float = 1.0,
    worker_name: str | None = None,
) -> Any:
    """The FastAPI app (wrapped in the API-key/body-size middleware).

    Parameters
    ----------
    store:
        A store URL (``memory://``, ``sqlite:///path``, ``redis://host:port/db``) opened at startup,
        or an open store (then not closed at shutdown).
    api_key:
        Required value of the ``X-API-Key`` header; ``None`` disables authentication (tests,
        local notebooks only: the CLI refuses to start without a key).
    max_body_bytes:
        Larger request bodies are answered 413 without being read further.
    expire_interval_seconds:
        How often this worker applies default rewards to decisions past their window (0: never;
        several workers may all do it: each decision gets the default exactly once).
    worker_name:
        ``host:pid`` recorded in the store for the recovery report (default: this process).
    """
    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1024:
        raise ScenarioError(f"max_body_bytes is {max_body_bytes!r}; it must be an integer >= 1024.")
    metrics = _Metrics()
    worker = worker_name or f"{socket.gethostname()}:{os.getpid()}"
    holder: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own = isinstance(store, str)
        st = open_store(store, service=True) if own else store
        holder["store"] = st
        report = st.recovery_report()
        holder["recovery"] = report
        st.register_worker(worker)
        if report.unclean_workers or report.n_pending:
            logger.warning("dmpopt bandit: recovered store %s: %s", getattr(st, "url", "?"), report)
        else:
            logger.info("dmpopt bandit: store %s: %s", getattr(st, "url", "?"), report)
        task = asyncio.create_task(_expire_loop(st, expire_interval_seconds)) if expire_interval_seconds > 0 else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
            st.unregister_worker(worker)
            if own:
                st.close()

    app = FastAPI(
        title="dmpopt bandit service",
        version="1",
        description="Multi-armed bandit decisions with propensities, exactly-once rewards and a shared store. "
        f"Send the API key in the `{API_KEY_HEADER}` header.",
        lifespan=lifespan,
    )

    def st() -> BanditStore:
        return holder["store"]

    @app.exception_handler(DmpoptError)
    async def _dmpopt_error(request: Request, exc: DmpoptError) -> Response:
        status = _status_of(exc)
        problems = list(getattr(exc, "problems", []) or [])
        return _error(status, type(exc).__name__, str(exc).split("\n")[0] if problems else str(exc), problems)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        status, message, problems = _describe(list(exc.errors()))
        return _error(status, "invalid_json" if status == 400 else "validation_error", message, problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error(404, "not_found", f"no endpoint {request.url.path!r}; see /docs for the API.")
        if exc.status_code == 405:
            return _error(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path!r}; see /docs.")
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.post("/v1/campaigns", status_code=201, responses=_ERRORS, tags=["campaigns"])
    async def create_campaign(body: CreateCampaignRequest) -> dict[str, Any]:
        """Create a campaign; 409 if the name exists. The response echoes the seed used."""
        return _json(st().create_campaign(body.campaign, seed=body.seed).to_dict(), 201)

    @app.get("/v1/campaigns", responses=_ERRORS, tags=["campaigns"])
    async def list_campaigns() -> dict[str, Any]:
        """Every campaign with its counters."""
        return _json({"campaigns": [c.to_dict() for c in st().list_campaigns()]})

    @app.get("/v1/campaigns/{name}", responses=_ERRORS, tags=["campaigns"])
    async def get_campaign(name: _CampaignName) -> dict[str, Any]:
        """One campaign: config, seed, counters per arm, pending decisions."""
        return _json(st().get_campaign(name).to_dict())

    # The three hot endpoints parse their body with pydantic-core directly (model_validate_json)
    # instead of FastAPI's dependency machinery, which cost ~0.2 ms per request in a profile;
    # the OpenAPI document still describes their bodies (openapi_extra).
    @app.post("/v1/campaigns/{name}/choose", response_model=DecisionOut, responses=_ERRORS, tags=["decisions"],
              openapi_extra=_body_doc(ChooseRequest, required=False))
    async def choose(name: str, request: Request) -> Any:
        """Choose an arm for one request; the decision is logged before the answer is sent."""
        raw = await request.body()
        b = _parse(ChooseRequest, raw) if raw.strip() else _EMPTY_CHOOSE
        d = st().choose(name, context=b.context, eligible=b.eligible, user_id=b.user_id)
        return _json(d.to_dict())

    @app.post("/v1/campaigns/{name}/choose/batch", response_model=DecisionBatchOut, responses=_ERRORS,
              tags=["decisions"], openapi_extra=_body_doc(ChooseBatchRequest))
    async def choose_batch(name: str, request: Request) -> Any:
        """Choose for up to 1,000 requests in one transaction (all or none are logged)."""
        body = _parse(ChooseBatchRequest, await request.body())
        reqs = [{"context": r.context, "eligible": r.eligible, "user_id": r.user_id} for r in body.requests]
        return _json({"decisions": [d.to_dict() for d in st().choose_batch(name, reqs)]})

    @app.post("/v1/rewards", response_model=RewardOut, responses=_ERRORS, tags=["rewards"],
              openapi_extra=_body_doc(RewardRequest))
    async def reward(request: Request) -> Any:
        """Reward a decision. A second reward for it answers 200 with ``duplicate: true`` and is ignored."""
        body = _parse(RewardRequest, await request.body())
        return _json(st().reward(body.decision_id, body.reward, body.cost).to_dict())

    @app.get("/v1/campaigns/{name}/state", responses=_ERRORS, tags=["campaigns"])
    async def state(name: _CampaignName) -> dict[str, Any]:
        """The policy state (``policy.to_state()``) with its version, and the campaign counters."""
        version, policy_state = st().policy_state(name)
        return _json({"campaign": st().get_campaign(name).to_dict(), "state_version": version,
                      "policy_state": policy_state})

    @app.get("/v1/campaigns/{name}/shares", responses=_ERRORS, tags=["campaigns"])
    async def shares(
        name: _CampaignName,
        n_draws: Annotated[int | None, Query(ge=100, le=1_000_000, description=(
            "Posterior draws for a Monte Carlo estimate; omitted: exact/quadrature probabilities."))] = None,
    ) -> dict[str, Any]:
        """Allocation shares for the next period: probability each arm is best, after guardrails."""
        version, arm_to_share = st().shares(name, n_draws)
        return _json({"campaign": name, "state_version": version, "arm_to_share": arm_to_share})

    @app.get("/v1/campaigns/{name}/decisions", responses=_ERRORS, tags=["decisions"])
    async def decisions(name: _CampaignName) -> dict[str, Any]:
        """The decision log joined with its rewards (for offline evaluation)."""
        return _json({"campaign": name, "decisions": st().decisions(name)})

    @app.get("/health", tags=["service"])
    async def health() -> dict[str, Any]:
        """Liveness and the store; ``recovery`` is what this worker found at startup."""
        try:
            campaigns = len(st().list_campaigns())
        except DmpoptError as exc:
            return _error(503, "store_unavailable", str(exc))
        return _json({"status": "ok", "worker": worker, "store": _redact(getattr(st(), "url", "?")),
                      "campaigns": campaigns, "recovery": holder["recovery"].to_dict()})

    @app.get("/metrics", tags=["service"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus text: store counters per campaign and arm, request counts and latency of this worker."""
        return Response(_render_metrics(st(), metrics, worker), media_type="text/plain; version=0.0.4")

    def openapi() -> dict[str, Any]:
        # The key is checked by _Gate before FastAPI runs; here it is only documented.
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(_BODY_DEFS)
            components["securitySchemes"] = {"APIKeyHeader": {
                "type": "apiKey", "in": "header", "name": API_KEY_HEADER, "description": "The service's API key."}}
            for path, ops in schema.get("paths", {}).items():
                if path not in _PUBLIC_PATHS:
                    for op in ops.values():
                        op["security"] = [{"APIKeyHeader": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    gate = _Gate(app, api_key, max_body_bytes, metrics)
    return gate


_EMPTY_CHOOSE = ChooseRequest()


def _parse(model: type[BaseModel], raw: bytes) -> Any:
    """Validate a JSON body; errors re-raised as FastAPI's so one handler formats them all."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = []
        for e in exc.errors(include_url=False):
            if e["type"] == "json_invalid":
                errors.append({"type": "json_invalid", "loc": ("body",), "msg": e["msg"],
                               "ctx": {"error": (e.get("ctx") or {}).get("error", e["msg"])}})
            else:
                errors.append({**e, "loc": ("body", *e["loc"])})
        raise RequestValidationError(errors) from None


def _body_doc(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` describing a JSON request body by its pydantic model (inlined schema)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    _BODY_DEFS.update(defs)
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


#: schemas referenced by the hand-documented bodies, merged into components by _openapi()
_BODY_DEFS: dict[str, Any] = {}


async def _expire_loop(store: BanditStore, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            store.expire()
        except DmpoptError as exc:  # a store hiccup must not kill the loop; the next tick retries
            logger.warning("dmpopt bandit: expiry pass failed: %s", exc)


def _redact(url: str) -> str:
    """Hide a password in ``redis://user:pass@host``."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest


def _render_metrics(store: BanditStore, metrics: _Metrics, worker: str) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    out = []
    out.append("# HELP dmpopt_bandit_decisions_total Decisions logged (store-wide).")
    out.append("# TYPE dmpopt_bandit_decisions_total counter")
    rewards, defaults, reward_sum, pending = [], [], [], []
    for c in store.list_campaigns():
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
    out += ["# HELP dmpopt_bandit_http_requests_total HTTP requests answered by this worker.",
            "# TYPE dmpopt_bandit_http_requests_total counter"]
    for (route, status), n in sorted(metrics.counts.items()):
        out.append(f'dmpopt_bandit_http_requests_total{{worker="{w}",route="{esc(route)}",status="{status}"}} {n}')
    out += ["# HELP dmpopt_bandit_http_request_seconds Request latency in this worker, seconds.",
            "# TYPE dmpopt_bandit_http_request_seconds histogram"]
    for route, h in sorted(metrics.latency.items()):
        lab = f'worker="{w}",route="{esc(route)}"'
        for b, n in zip(_Metrics.BUCKETS, h):
            out.append(f'dmpopt_bandit_http_request_seconds_bucket{{{lab},le="{b}"}} {int(n)}')
        out.append(f'dmpopt_bandit_http_request_seconds_bucket{{{lab},le="+Inf"}} {int(h[-2])}')
        out.append(f"dmpopt_bandit_http_request_seconds_count{{{lab}}} {int(h[-2])}")
        out.append(f"dmpopt_bandit_http_request_seconds_sum{{{lab}}} {h[-1]!r}")
    return "\n".join(out) + "\n"


def app_from_env() -> Any:
    """App factory for uvicorn workers: reads ``DMPOPT_BANDIT_STORE``, ``DMPOPT_API_KEY``,
    ``DMPOPT_BANDIT_MAX_BODY_BYTES`` and ``DMPOPT_BANDIT_EXPIRE_SECONDS`` (set by ``dmpopt bandit serve``)."""
    store = os.environ.get("DMPOPT_BANDIT_STORE")
    if not store:
        raise StoreError("DMPOPT_BANDIT_STORE is not set; start the service with `dmpopt bandit serve --store URL`.")
    return create_app(
        store,
        os.environ.get("DMPOPT_API_KEY") or None,
        max_body_bytes=int(os.environ.get("DMPOPT_BANDIT_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
        expire_interval_seconds=float(os.environ.get("DMPOPT_BANDIT_EXPIRE_SECONDS", "1.0")),
    )
