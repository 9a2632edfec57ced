"""Request and response models of the bandit HTTP service (pydantic, frozen, extra="forbid").

The hot endpoints (choose, rewards) validate their bodies with :func:`parse_body` (pydantic-core
``model_validate_json``) and describe them in OpenAPI with :func:`body_doc`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from optimizer.bandit.config import CAMPAIGN_NAME_PATTERN, CAMPAIGN_NAME_RULE, CampaignConfig

_FROZEN = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
CampaignName = Annotated[str, Path(min_length=1, max_length=100, pattern=CAMPAIGN_NAME_PATTERN,
                                   description=f"Campaign name: {CAMPAIGN_NAME_RULE}.")]


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

    context: list[Annotated[float, Field(strict=True)]] | None = Field(
        None, max_length=1000, description="Request features for contextual policies (length context_dim), JSON numbers."
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
    # strict: "1" or true are refused (422), not read as 1 -- a sender that quotes numbers has a bug
    reward: float = Field(
        strict=True, description="The observed reward, a JSON number: 0 or 1 for binary campaigns, else within reward_bounds."
    )
    cost: float | None = Field(
        None, ge=0, strict=True,
        description="Money spent on this action, campaign currency, a JSON number (default: the arm's cost_per_action).",
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


ERROR_RESPONSES = {code: {"model": ErrorOut} for code in (400, 401, 404, 409, 410, 413, 422, 503)}


EMPTY_CHOOSE = ChooseRequest()


def parse_body(model: type[BaseModel], raw: bytes) -> Any:
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


def body_doc(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` describing a JSON request body by its pydantic model (inlined schema)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    BODY_DEFS.update(defs)
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


#: schemas referenced by the hand-documented bodies, merged into components by _openapi()
BODY_DEFS: dict[str, Any] = {}
