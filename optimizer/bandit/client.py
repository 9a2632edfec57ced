"""A small Python client for the bandit HTTP service.

>>> from optimizer.bandit.client import BanditClient
>>> with BanditClient("http://127.0.0.1:8787", api_key="...") as bandit:     # doctest: +SKIP
...     d = bandit.choose("welcome", user_id="u42")
...     bandit.reward(d["decision_id"], 1.0)

Every method returns the service's JSON as dicts and raises the matching
:class:`~optimizer.errors.DmpoptError` subclass with the server's message: 404
:class:`UnknownCampaignError` / :class:`UnknownDecisionError`, 409 :class:`ConflictError`, 410
:class:`ExpiredDecisionError`, 400/413/422 :class:`ScenarioError` (with ``problems``), 401
:class:`AuthenticationError`, 503 and network failures :class:`ServiceError`.

Connections are kept alive and have ``TCP_NODELAY`` set: httpx writes a request's headers and
body separately, and with Nagle's algorithm on, the body waits for the server's delayed ACK
(~40 ms on Linux). ``choose`` is never retried (a retry would make a second decision);
``reward`` is retried on network errors, which is safe because a second reward for a decision
is ignored by the service.
"""

from __future__ import annotations

import math
import socket
import time
from typing import Any, Sequence

from optimizer.bandit.store import (
    ConflictError,
    ExpiredDecisionError,
    NotFoundError,
    StoreError,
    UnknownCampaignError,
    UnknownDecisionError,
)
from optimizer.errors import DmpoptError, ScenarioError


class AuthenticationError(DmpoptError):
    """The service refused the API key (HTTP 401)."""


class ServiceError(DmpoptError):
    """The service could not be reached, or answered with an unexpected status."""


_BY_TYPE: dict[str, type[DmpoptError]] = {
    "UnknownCampaignError": UnknownCampaignError,
    "UnknownDecisionError": UnknownDecisionError,
    "ExpiredDecisionError": ExpiredDecisionError,
    "ConflictError": ConflictError,
}
_BY_STATUS: dict[int, type[DmpoptError]] = {
    400: ScenarioError, 401: AuthenticationError, 404: NotFoundError, 409: ConflictError,
    410: ExpiredDecisionError, 413: ScenarioError, 422: ScenarioError, 503: StoreError,
}


class BanditClient:
    """Client of one bandit service.

    Parameters
    ----------
    base_url:
        e.g. ``http://127.0.0.1:8787``.
    api_key:
        Sent as ``X-API-Key``.
    timeout_seconds:
        Per-request timeout.
    reward_retries:
        Extra attempts for ``reward`` after a network error (safe: duplicates are ignored).
    """

    def __init__(self, base_url: str, api_key: str | None, timeout_seconds: float = 10.0, reward_retries: int = 2):
        import httpx

        self.base_url = base_url.rstrip("/")
        headers = {"X-API-Key": api_key} if api_key else {}
        transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_seconds,
                                  transport=transport)
        self.reward_retries = int(reward_retries)

    # ---------------------------------------------------------------------------- plumbing
    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> "BanditClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BanditClient({self.base_url!r})"

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        import httpx

        try:
            resp = self._http.request(method, path, json=body, params=params)
        except httpx.HTTPError as exc:
            raise ServiceError(f"{method} {self.base_url}{path} failed: {exc!s} ({type(exc).__name__}). "
                               "Is the service running at that address?") from None
        if resp.status_code < 400:
            return resp.json()
        try:
            err = resp.json()["error"]
            message, kind, problems = err["message"], err.get("type", ""), err.get("problems") or []
        except (ValueError, KeyError, TypeError):
            message, kind, problems = f"HTTP {resp.status_code}: {resp.text[:200]}", "", []
        cls = _BY_TYPE.get(kind) or _BY_STATUS.get(resp.status_code, ServiceError)
        if cls is ScenarioError:
            exc = ScenarioError(message)
            exc.problems = list(problems)
        else:
            exc = cls(message)
        exc.status_code = resp.status_code  # type: ignore[attr-defined]
        raise exc

    # --------------------------------------------------------------------------- endpoints
    def create_campaign(self, campaign: Any, seed: int | None = None) -> dict[str, Any]:
        """Create a campaign from a :class:`CampaignConfig` or an equivalent dict."""
        if hasattr(campaign, "model_dump"):
            campaign = campaign.model_dump(mode="json")
        return self._call("POST", "/v1/campaigns", {"campaign": campaign, "seed": seed})

    def campaigns(self) -> list[dict[str, Any]]:
        """Every campaign with its counters."""
        return self._call("GET", "/v1/campaigns")["campaigns"]

    def campaign(self, name: str) -> dict[str, Any]:
        """One campaign."""
        return self._call("GET", f"/v1/campaigns/{name}")

    def choose(
        self,
        campaign: str,
        context: Sequence[float] | None = None,
        eligible: Sequence[str] | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """One decision: ``decision_id``, ``arm``, ``propensity``, ``arm_to_probability``, ..."""
        body = {k: v for k, v in (("context", None if context is None else list(context)),
                                  ("eligible", None if eligible is None else list(eligible)),
                                  ("user_id", user_id)) if v is not None}
        return self._call("POST", f"/v1/campaigns/{campaign}/choose", body)

    def choose_batch(self, campaign: str, requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Decisions for up to 1,000 requests (dicts with optional context, eligible, user_id)."""
        return self._call("POST", f"/v1/campaigns/{campaign}/choose/batch", {"requests": list(requests)})["decisions"]

    def reward(self, decision_id: str, reward: float, cost: float | None = None) -> dict[str, Any]:
        """Post a reward; the answer has ``duplicate: true`` if the decision already had one."""
        for name, value in (("reward", reward), ("cost", cost)):
            # JSON has no NaN/infinity: refuse here with the service's wording rather than send garbage
            if isinstance(value, float) and not math.isfinite(value):
                raise ScenarioError(f"{name} is {value}; it must be a finite number (no NaN or infinity).")
        body: dict[str, Any] = {"decision_id": decision_id, "reward": reward}
        if cost is not None:
            body["cost"] = cost
        for attempt in range(self.reward_retries + 1):
            try:
                return self._call("POST", "/v1/rewards", body)
            except ServiceError:
                if attempt == self.reward_retries:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def state(self, campaign: str) -> dict[str, Any]:
        """Policy state, its version and the campaign counters."""
        return self._call("GET", f"/v1/campaigns/{campaign}/state")

    def shares(self, campaign: str, n_draws: int | None = None) -> dict[str, float]:
        """Allocation shares for the next period, arm -> share (sums to 1)."""
        params = None if n_draws is None else {"n_draws": n_draws}
        return self._call("GET", f"/v1/campaigns/{campaign}/shares", params=params)["arm_to_share"]

    def decisions(self, campaign: str) -> list[dict[str, Any]]:
        """The decision log joined with rewards."""
        return self._call("GET", f"/v1/campaigns/{campaign}/decisions")["decisions"]

    def health(self) -> dict[str, Any]:
        """``/health`` (no key needed)."""
        return self._call("GET", "/health")

    def metrics(self) -> str:
        """``/metrics`` as Prometheus text."""
        import httpx

        try:
            resp = self._http.get("/metrics")
        except httpx.HTTPError as exc:
            raise ServiceError(f"GET {self.base_url}/metrics failed: {exc!s}.") from None
        if resp.status_code != 200:
            self._call("GET", "/metrics")  # raises the mapped error
        return resp.text
