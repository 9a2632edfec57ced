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
import gc
import logging
import os
import socket
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

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
from optimizer.bandit.store import BanditStore, StoreError, open_store
from optimizer.errors import DmpoptError, ScenarioError

logger = logging.getLogger("dmpopt.bandit.service")

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
    freeze_gc:
        After startup, ``gc.freeze()`` the process's objects (a process-wide setting: ``dmpopt
        bandit serve`` turns it on for its own workers; leave it off when embedding the app).
    """
    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1024:
        raise ScenarioError(f"max_body_bytes is {max_body_bytes!r}; it must be an integer >= 1024.")
    metrics = Metrics()
    worker = worker_name or f"{socket.gethostname()}:{os.getpid()}"
    holder: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own = isinstance(store, str)
        st = open_store(store, service=True, decision_refresh_seconds=decision_refresh_seconds) if own else store
        holder["store"] = st
        report = st.recovery_report()
        holder["recovery"] = report
        st.register_worker(worker)
        where = redact(getattr(st, "url", "?"))
        if report.unclean_workers:  # a crash since the last start: say what it means
            logger.warning("dmpopt bandit: recovered store %s: %s", where, report)
        else:
            logger.info("dmpopt bandit: starting on store %s: %s", where, report)
        task = asyncio.create_task(_expire_loop(st, expire_interval_seconds)) if expire_interval_seconds > 0 else None
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
        return json_response(st().create_campaign(body.campaign, seed=body.seed).to_dict(), 201)

    @app.get("/v1/campaigns", responses=ERROR_RESPONSES, tags=["campaigns"])
    async def list_campaigns() -> dict[str, Any]:
        """Every campaign with its counters."""
        return json_response({"campaigns": [c.to_dict() for c in st().list_campaigns()]})

    @app.get("/v1/campaigns/{name}", responses=ERROR_RESPONSES, tags=["campaigns"])
    async def get_campaign(name: CampaignName) -> dict[str, Any]:
        """One campaign: config, seed, counters per arm, pending decisions."""
        return json_response(st().get_campaign(name).to_dict())

    # The three hot endpoints parse their body with pydantic-core directly (model_validate_json)
    # instead of FastAPI's dependency machinery, which cost ~0.2 ms per request in a profile;
    # the OpenAPI document still describes their bodies (openapi_extra).
    @app.post("/v1/campaigns/{name}/choose", response_model=DecisionOut, responses=ERROR_RESPONSES, tags=["decisions"],
              openapi_extra=body_doc(ChooseRequest, required=False))
    async def choose(name: str, request: Request) -> Any:
        """Choose an arm for one request; the decision is logged before the answer is sent."""
        raw = await request.body()
        b = parse_body(ChooseRequest, raw) if raw.strip() else EMPTY_CHOOSE
        d = st().choose(name, context=b.context, eligible=b.eligible, user_id=b.user_id)
        return json_response(d.to_dict())

    @app.post("/v1/campaigns/{name}/choose/batch", response_model=DecisionBatchOut, responses=ERROR_RESPONSES,
              tags=["decisions"], openapi_extra=body_doc(ChooseBatchRequest))
    async def choose_batch(name: str, request: Request) -> Any:
        """Choose for up to 1,000 requests in one transaction (all or none are logged)."""
        body = parse_body(ChooseBatchRequest, await request.body())
        reqs = [{"context": r.context, "eligible": r.eligible, "user_id": r.user_id} for r in body.requests]
        return json_response({"decisions": [d.to_dict() for d in st().choose_batch(name, reqs)]})

    @app.post("/v1/rewards", response_model=RewardOut, responses=ERROR_RESPONSES, tags=["rewards"],
              openapi_extra=body_doc(RewardRequest))
    async def reward(request: Request) -> Any:
        """Reward a decision. A second reward for it answers 200 with ``duplicate: true`` and is ignored."""
        body = parse_body(RewardRequest, await request.body())
        return json_response(st().reward(body.decision_id, body.reward, body.cost).to_dict())

    @app.get("/v1/campaigns/{name}/state", responses=ERROR_RESPONSES, tags=["campaigns"])
    async def state(name: CampaignName) -> dict[str, Any]:
        """The policy state (``policy.to_state()``) with its version, and the campaign counters."""
        version, policy_state = st().policy_state(name)
        return json_response({"campaign": st().get_campaign(name).to_dict(), "state_version": version,
                      "policy_state": policy_state})

    @app.get("/v1/campaigns/{name}/shares", responses=ERROR_RESPONSES, tags=["campaigns"])
    async def shares(
        name: CampaignName,
        n_draws: Annotated[int | None, Query(ge=100, le=1_000_000, description=(
            "Posterior draws for a Monte Carlo estimate; omitted: exact/quadrature probabilities."))] = None,
    ) -> dict[str, Any]:
        """Allocation shares for the next period: probability each arm is best, after guardrails."""
        version, arm_to_share = st().shares(name, n_draws)
        return json_response({"campaign": name, "state_version": version, "arm_to_share": arm_to_share})

    @app.get("/v1/campaigns/{name}/decisions", responses=ERROR_RESPONSES, tags=["decisions"])
    async def decisions(name: CampaignName) -> dict[str, Any]:
        """The decision log joined with its rewards (for offline evaluation)."""
        return json_response({"campaign": name, "decisions": st().decisions(name)})

    @app.get("/health", tags=["service"])
    async def health() -> dict[str, Any]:
        """Liveness and the store; ``recovery`` is what this worker found at startup."""
        try:
            campaigns = len(st().list_campaigns())
        except DmpoptError as exc:
            return error_response(503, "store_unavailable", str(exc))
        return json_response({"status": "ok", "worker": worker, "store": redact(getattr(st(), "url", "?")),
                      "campaigns": campaigns, "recovery": holder["recovery"].to_dict()})

    @app.get("/metrics", tags=["service"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus text: store counters per campaign and arm, request counts and latency of this worker."""
        return Response(render_metrics(st(), metrics, worker), media_type="text/plain; version=0.0.4")

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


#: Default rewards applied per expiry transaction: small, so the store's write lock is never held
#: long (each is a policy update), with the event loop free between transactions.
EXPIRE_CHUNK = 100


async def _expire_loop(store: BanditStore, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            while store.expire(limit=EXPIRE_CHUNK) == EXPIRE_CHUNK:
                await asyncio.sleep(0)  # let waiting requests run between chunks
        except DmpoptError as exc:  # a store hiccup must not kill the loop; the next tick retries
            logger.warning("dmpopt bandit: expiry pass failed: %s", exc)


def app_from_env() -> Any:
    """App factory for uvicorn workers: reads ``DMPOPT_BANDIT_STORE``, ``DMPOPT_API_KEY``,
    ``DMPOPT_BANDIT_MAX_BODY_BYTES``, ``DMPOPT_BANDIT_EXPIRE_SECONDS`` and
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
    )
