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
``GET  /health``                            liveness (no key); + store, jobs, recovery     200
``GET  /metrics``                           Prometheus text format                         200
``GET  /docs``, ``/openapi.json``           OpenAPI documentation (no key)                 200
==========================================  ============================================  =====

Errors are ``{"error": {"status", "type", "message", "problems"}}`` with: 400 malformed JSON,
401 missing or wrong ``X-API-Key``, 404 unknown campaign/decision/route, 409 campaign exists or
budget exhausted, 410 reward after the window (the default reward stands), 413 body larger than
``max_body_bytes`` (64 KiB default), 422 a field with a bad value (NaN, out of range, unknown
arm, wrong context length, unknown key, a request over a cost limit), 503 store unavailable or
locked (with ``Retry-After``). A rejected request changes nothing.

A second reward for the same ``decision_id`` answers **200 with ``"duplicate": true``** and is not
counted: the first reward stands. (409 would make an at-least-once sender treat its own retry
as a failure.)

Handlers are ``async``; every store call runs on one store thread per worker
(:class:`~optimizer.bandit.service_jobs.StoreRunner`), never on the event loop, so ``/health``
answers while a slow call (a 1,000-arm propensity, a locked SQLite file) runs. Handing a call to
the thread costs ~50-100 us, paid for that guarantee. Scale with ``--workers``. Every write is
committed before the response is sent. Request costs are bounded by
:class:`~optimizer.bandit.limits.ServiceLimits` (422 naming the limit).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import hmac
import logging
import os
import socket
import time
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from optimizer.bandit.limits import ServiceLimits, check_batch, check_campaign, check_shares, parse_limits
from optimizer.bandit.service_http import (
    API_KEY_HEADER,
    PUBLIC_PATHS,
    Gate,
    Metrics,
    error_response,
    exception_response,
    json_response,
    redact,
    render_metrics,
)
from optimizer.bandit.service_models import (
    BODY_DEFS,
    EMPTY_CHOOSE,
    ERROR_RESPONSES,
    CampaignName,
    ChooseBatchRequest,
    ChooseRequest,
    CreateCampaignRequest,
    DecisionBatchOut,
    DecisionOut,
    RewardOut,
    RewardRequest,
    body_doc,
    parse_body,
)
from optimizer.bandit.service_jobs import ExpiryJobStatus, StoreRunner, expiry_job
from optimizer.bandit.store import BanditStore, StoreError, open_store
from optimizer.errors import DmpoptError, ScenarioError

logger = logging.getLogger("dmpopt.bandit.service")

#: How long /health waits for the store before reporting it as not answering, seconds.
HEALTH_STORE_TIMEOUT_SECONDS = 2.0

#: Default limit on a request body, bytes.
DEFAULT_MAX_BODY_BYTES = 64 * 1024


# ---------------------------------------------------------------------------------- the app
def create_app(
    store: str | BanditStore,
    api_key: str | None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    expire_interval_seconds: float = 1.0,
    worker_name: str | None = None,
    decision_refresh_seconds: float | None = None,
    freeze_gc: bool = False,
    limits: ServiceLimits | dict | str | None = None,
    crash_pending: str = "default",
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
    decision_refresh_seconds:
        How stale the state decisions are drawn from may be, seconds, when ``store`` is a URL
        (default :data:`~optimizer.bandit.store.SERVICE_DECISION_REFRESH_SECONDS`; 0: always newest).
    limits:
        Request cost limits (:class:`~optimizer.bandit.limits.ServiceLimits`, or its dict/JSON);
        default :data:`~optimizer.bandit.limits.DEFAULT_LIMITS`. A request over a limit is 422.
    crash_pending:
        What to do at startup with the unrewarded decisions of workers that crashed (see
        :class:`~optimizer.bandit.store.RecoveryReport`): ``default`` keeps them pending (a reward
        inside the window counts, else the default reward is applied as if served); ``expire``
        closes them without a reward.
    freeze_gc:
        After startup, ``gc.freeze()`` the process's objects (a process-wide setting: ``dmpopt
        bandit serve`` turns it on for its own workers; leave it off when embedding the app).
    """
    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1024:
        raise ScenarioError(f"max_body_bytes is {max_body_bytes!r}; it must be an integer >= 1024.")
    lim = parse_limits(limits)
    if crash_pending not in ("default", "expire"):
        raise ScenarioError(f"crash_pending is {crash_pending!r}; use 'default' or 'expire'.")
    metrics = Metrics()
    worker = worker_name or f"{socket.gethostname()}:{os.getpid()}"
    holder: dict[str, Any] = {}
    job = ExpiryJobStatus(interval_seconds=float(expire_interval_seconds), started_at=time.time())

    async def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a store call on this worker's store thread (never on the event loop)."""
        return await holder["runner"](fn, *args, **kwargs)

    holder["expiry"] = job if expire_interval_seconds > 0 else None
    key_bytes = api_key.encode() if api_key else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        holder["runner"] = runner = StoreRunner()  # per lifespan: a stopped app can be started again
        own = isinstance(store, str)
        st = open_store(store, service=True, decision_refresh_seconds=decision_refresh_seconds) if own else store
        holder["store"] = st
        report = dataclasses.replace(st.recovery_report(), crash_pending=crash_pending)
        if report.unclean_workers and crash_pending == "expire":
            report = dataclasses.replace(report, n_closed=st.close_pending(report.unclean_workers))
        holder["recovery"] = report
        st.register_worker(worker)
        where = redact(getattr(st, "url", "?"))
        if report.unclean_workers:  # a crash since the last start: say what it means
            logger.warning("dmpopt bandit: recovered store %s: %s", where, report)
        else:
            logger.info("dmpopt bandit: starting on store %s: %s", where, report)
        job.started_at = time.time()
        task = asyncio.create_task(expiry_job(st, job, runner)) if expire_interval_seconds > 0 else None
        if freeze_gc:
            # Everything loaded by now lives as long as the worker: move it out of the collector's
            # generations, so full collections (~0.1 s over ~100,000 objects, measured on a loaded
            # machine) stop showing up as tail-latency spikes. scipy.special is loaded first: the
            # Thompson propensities import it on the first decision otherwise.
            import scipy.special  # noqa: F401

            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
            runner.close()
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
        return exception_response(exc)

    import redis

    @app.exception_handler(redis.RedisError)
    async def _redis_error(request: Request, exc: Exception) -> Response:
        return exception_response(exc)  # 503 for an outage; anything else is re-raised (500)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return exception_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(404, "not_found", f"no endpoint {request.url.path!r}; see /docs for the API.")
        if exc.status_code == 405:
            return error_response(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path!r}; see /docs.")
        return error_response(exc.status_code, "http_error", str(exc.detail))

    @app.post("/v1/campaigns", status_code=201, responses=ERROR_RESPONSES, tags=["campaigns"])
    async def create_campaign(body: CreateCampaignRequest) -> dict[str, Any]:
        """Create a campaign; 409 if the name exists. The response echoes the seed used."""
        check_campaign(body.campaign, lim)
        return json_response((await run(st().create_campaign, body.campaign, seed=body.seed)).to_dict(), 201)

    @app.get("/v1/campaigns", responses=ERROR_RESPONSES, tags=["campaigns"])
    async def list_campaigns() -> dict[str, Any]:
        """Every campaign with its counters."""
        return json_response({"campaigns": [c.to_dict() for c in await run(st().list_campaigns)]})

    @app.get("/v1/campaigns/{name}", responses=ERROR_RESPONSES, tags=["campaigns"])
    async def get_campaign(name: CampaignName) -> dict[str, Any]:
        """One campaign: config, seed, counters per arm, pending decisions."""
        return json_response((await run(st().get_campaign, name)).to_dict())

    # The three hot endpoints parse their body with pydantic-core directly (model_validate_json)
    # instead of FastAPI's dependency machinery, which cost ~0.2 ms per request in a profile;
    # the OpenAPI document still describes their bodies (openapi_extra).
    @app.post("/v1/campaigns/{name}/choose", response_model=DecisionOut, responses=ERROR_RESPONSES, tags=["decisions"],
              openapi_extra=body_doc(ChooseRequest, required=False))
    async def choose(name: CampaignName, request: Request) -> Any:
        """Choose an arm for one request; the decision is logged before the answer is sent."""
        raw = await request.body()
        b = parse_body(ChooseRequest, raw) if raw.strip() else EMPTY_CHOOSE
        d = await run(st().choose, name, context=b.context, eligible=b.eligible, user_id=b.user_id)
        return json_response(d.to_dict())

    @app.post("/v1/campaigns/{name}/choose/batch", response_model=DecisionBatchOut, responses=ERROR_RESPONSES,
              tags=["decisions"], openapi_extra=body_doc(ChooseBatchRequest))
    async def choose_batch(name: CampaignName, request: Request) -> Any:
        """Choose for up to 1,000 requests in one transaction (all or none are logged)."""
        body = parse_body(ChooseBatchRequest, await request.body())
        reqs = [{"context": r.context, "eligible": r.eligible, "user_id": r.user_id} for r in body.requests]
        check_batch((await run(st().get_campaign, name)).config, len(reqs), lim)
        return json_response({"decisions": [d.to_dict() for d in await run(st().choose_batch, name, reqs)]})

    @app.post("/v1/rewards", response_model=RewardOut, responses=ERROR_RESPONSES, tags=["rewards"],
              openapi_extra=body_doc(RewardRequest))
    async def reward(request: Request) -> Any:
        """Reward a decision. A second reward for it answers 200 with ``duplicate: true`` and is ignored."""
        body = parse_body(RewardRequest, await request.body())
        return json_response((await run(st().reward, body.decision_id, body.reward, body.cost)).to_dict())

    @app.get("/v1/campaigns/{name}/state", responses=ERROR_RESPONSES, tags=["campaigns"])
    async def state(name: CampaignName) -> dict[str, Any]:
        """The policy state (``policy.to_state()``) with its version, and the campaign counters."""
        version, policy_state = await run(st().policy_state, name)
        info = await run(st().get_campaign, name)
        return json_response({"campaign": info.to_dict(), "state_version": version,
                      "policy_state": policy_state})

    @app.get("/v1/campaigns/{name}/shares", responses=ERROR_RESPONSES, tags=["campaigns"])
    async def shares(
        name: CampaignName,
        n_draws: Annotated[int | None, Query(ge=100, le=1_000_000, description=(
            "Posterior draws for a Monte Carlo estimate; omitted: exact/quadrature probabilities."))] = None,
    ) -> dict[str, Any]:
        """Allocation shares for the next period: probability each arm is best, after guardrails."""
        if n_draws is not None:
            check_shares((await run(st().get_campaign, name)).config, n_draws, lim)
        version, arm_to_share = await run(st().shares, name, n_draws)
        return json_response({"campaign": name, "state_version": version, "arm_to_share": arm_to_share})

    @app.get("/v1/campaigns/{name}/decisions", responses=ERROR_RESPONSES, tags=["decisions"])
    async def decisions(name: CampaignName) -> dict[str, Any]:
        """The decision log joined with its rewards (for offline evaluation)."""
        return json_response({"campaign": name, "decisions": await run(st().decisions, name)})

    @app.get("/health", tags=["service"])
    async def health(request: Request) -> dict[str, Any]:
        """Liveness, answered by the event loop even while the store thread is busy.

        Without the API key: only ``{"status": "ok"}`` (nothing internal). With it: the worker, the
        store (password hidden), whether it answered within HEALTH_STORE_TIMEOUT_SECONDS, the
        default-reward job (last success, last error, backlog) and the startup recovery report.
        ``status`` is ``degraded`` when the store did not answer or the job is failing.
        """
        given = request.headers.get(API_KEY_HEADER)
        if key_bytes is not None and (given is None or not hmac.compare_digest(given.encode(), key_bytes)):
            return json_response({"status": "ok"})
        store_status: dict[str, Any] = {"url": redact(getattr(st(), "url", "?"))}
        try:  # a separate thread: the store thread may be busy with a long request
            store_status["campaigns"] = len(await asyncio.wait_for(
                asyncio.to_thread(st().list_campaigns), HEALTH_STORE_TIMEOUT_SECONDS))
            store_status["ok"] = True
        except asyncio.TimeoutError:
            store_status.update(ok=False, error=f"no answer within {HEALTH_STORE_TIMEOUT_SECONDS:g} s (busy or unreachable)")
        except Exception as exc:  # noqa: BLE001 - reported, not raised: health must answer
            store_status.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        expiry = holder["expiry"]
        degraded = not store_status["ok"] or (expiry is not None and not expiry.healthy)
        return json_response({"status": "degraded" if degraded else "ok", "worker": worker, "store": store_status,
                              "default_reward_job": None if expiry is None else expiry.to_dict(),
                              "recovery": holder["recovery"].to_dict()})

    @app.get("/metrics", tags=["service"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus text: store counters per campaign and arm, request counts and latency of this worker."""
        try:  # the store read on the store thread; the text (this worker's counters) on the loop
            campaigns = await run(st().list_campaigns)
        except Exception:  # noqa: BLE001 - a store outage is reported as dmpopt_bandit_store_up 0
            campaigns = False
        text = render_metrics(st(), metrics, worker, holder["expiry"], campaigns=campaigns)
        return Response(text, media_type="text/plain; version=0.0.4")

    def openapi() -> dict[str, Any]:
        # The key is checked by Gate before FastAPI runs; here it is only documented.
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(BODY_DEFS)
            components["securitySchemes"] = {"APIKeyHeader": {
                "type": "apiKey", "in": "header", "name": API_KEY_HEADER, "description": "The service's API key."}}
            for path, ops in schema.get("paths", {}).items():
                if path not in PUBLIC_PATHS:
                    for op in ops.values():
                        op["security"] = [{"APIKeyHeader": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    gate = Gate(app, api_key, max_body_bytes, metrics, holder)
    return gate


def app_from_env() -> Any:
    """App factory for uvicorn workers: reads ``DMPOPT_BANDIT_STORE``, ``DMPOPT_API_KEY``,
    ``DMPOPT_BANDIT_MAX_BODY_BYTES``, ``DMPOPT_BANDIT_EXPIRE_SECONDS``, ``DMPOPT_BANDIT_LIMITS`` (JSON), ``DMPOPT_BANDIT_CRASH_PENDING`` and
    ``DMPOPT_BANDIT_DECISION_REFRESH_SECONDS`` (set by ``dmpopt bandit serve``)."""
    store = os.environ.get("DMPOPT_BANDIT_STORE")
    if not store:
        raise StoreError("DMPOPT_BANDIT_STORE is not set; start the service with `dmpopt bandit serve --store URL`.")
    return create_app(
        store,
        os.environ.get("DMPOPT_API_KEY") or None,
        max_body_bytes=int(os.environ.get("DMPOPT_BANDIT_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
        expire_interval_seconds=float(os.environ.get("DMPOPT_BANDIT_EXPIRE_SECONDS", "1.0")),
        decision_refresh_seconds=(float(os.environ["DMPOPT_BANDIT_DECISION_REFRESH_SECONDS"])
                                  if os.environ.get("DMPOPT_BANDIT_DECISION_REFRESH_SECONDS") else None),
        freeze_gc=True,
        limits=parse_limits(os.environ.get("DMPOPT_BANDIT_LIMITS") or None, "DMPOPT_BANDIT_LIMITS"),
        crash_pending=os.environ.get("DMPOPT_BANDIT_CRASH_PENDING", "default"),
    )
