"""The planner: from a create request to a plan, outside the engine (it reads AWS, it writes nothing).

Three stages, each refusing bad input with a precise message before anything is written: the request
is judged on its own (`parse_request`); the cluster is described and the operation type's preflight
checks what the plan needs to know beyond the snapshot; the plan is built from the snapshot, the
params and those facts, and the steps the request asks to pause before must be in it. Adding an
operation type is a params model, a preflight and a plan builder: nothing here changes.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from rds_maint.errors import BadInput
from rds_maint.model import PARAMS_BY_TYPE, OperationParams, OperationType
from rds_maint.planning.preflight import preflight
from rds_maint.planning.step_refs import refusal_of_pause_ref, step_matches
from rds_maint.plans import Plan, build_plan
from rds_maint.ports import RdsPort
from rds_maint.snapshots import ClusterSnapshot

__all__ = [
    "DEFAULT_WAIT_TIMEOUT",
    "REQUEST_KEYS",
    "WAIT_TIMEOUT_RANGE",
    "CreateRequest",
    "PlanPreview",
    "check_wait_timeout",
    "describe_for_plan",
    "did_you_mean",
    "parse_request",
    "plan_request",
    "step_matches",
]

DEFAULT_WAIT_TIMEOUT = 45 * 60
WAIT_TIMEOUT_RANGE = (60, 86400)
REQUEST_KEYS = frozenset({"type", "cluster_id", "region", "params", "pause_before_steps", "wait_timeout"})


@dataclass(frozen=True)
class CreateRequest:
    type: OperationType
    cluster_id: str
    region: str
    params: OperationParams
    raw_params: dict[str, Any]
    pause_before_steps: list[str]
    wait_timeout: int

    @property
    def target_id(self) -> str:
        """What the operation will change and lock (see `Operation.target_id`)."""
        return self.cluster_id


@dataclass(frozen=True)
class PlanPreview:
    request: CreateRequest
    cluster: ClusterSnapshot
    plan: Plan
    operation_id: str


def did_you_mean(key: str, valid: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the valid key closest to a misspelt one, or nothing if none is close."""
    close = difflib.get_close_matches(key, sorted(valid), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _format_validation(op_type: OperationType, exc: ValidationError) -> str:
    valid = sorted(PARAMS_BY_TYPE[op_type].model_fields)
    parts = []
    unknown = False
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            unknown = True
            message = "unknown parameter" + did_you_mean(str(err["loc"][-1]), valid)
        parts.append(f"params.{where}: {message}")
    text = "; ".join(parts)
    if unknown:
        text += f" (the parameters of {op_type.value}: {', '.join(valid)})"
    return text


def _operation_type(data: dict[str, Any]) -> OperationType:
    raw_type = data.get("type")
    try:
        return OperationType(str(raw_type))
    except ValueError:
        allowed = [t.value for t in OperationType]
        hint = did_you_mean(str(raw_type), allowed) if isinstance(raw_type, str) else ""
        raise BadInput(f"unknown operation type {raw_type!r}{hint}: expected one of {', '.join(allowed)}") from None


def _params(op_type: OperationType, data: dict[str, Any]) -> OperationParams:
    raw_params = data.get("params", {})
    if raw_params is None:
        raw_params = {}
    if not isinstance(raw_params, dict):
        raise BadInput(f"params must be an object of {op_type.value} parameters, not {type(raw_params).__name__}")
    try:
        params: OperationParams = PARAMS_BY_TYPE[op_type].model_validate(raw_params)  # type: ignore[assignment]
    except ValidationError as exc:
        raise BadInput(f"invalid {op_type.value} params: {_format_validation(op_type, exc)}") from None
    return params


def _where(data: dict[str, Any], default_region: str | None) -> tuple[str, str]:
    cluster_id = data.get("cluster_id")
    if not isinstance(cluster_id, str) or not cluster_id.strip():
        raise BadInput("cluster_id is required: the DB cluster identifier, e.g. orders-prod")
    region = data.get("region") or default_region
    if not isinstance(region, str) or not region.strip():
        raise BadInput(
            "region is required (e.g. us-east-1): pass --region, set AWS_REGION, or give the profile one "
            "(aws configure set region us-east-1 --profile PROFILE)"
        )
    return cluster_id, region


def _pause_before(data: dict[str, Any]) -> list[str]:
    pause_before = data.get("pause_before_steps", [])
    if not isinstance(pause_before, list) or not all(isinstance(s, str) and s for s in pause_before):
        raise BadInput("pause_before_steps must be a list of steps to pause before (step ids, names or actions)")
    return list(pause_before)


def check_wait_timeout(value: object, what: str = "wait_timeout") -> int:
    """A wait timeout, at creation or given later to a running operation: whole seconds in WAIT_TIMEOUT_RANGE."""
    low, high = WAIT_TIMEOUT_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadInput(f"{what} must be a whole number of seconds between {low} and {high} (got {value!r})")
    return value


def _wait_timeout(data: dict[str, Any]) -> int:
    return check_wait_timeout(data.get("wait_timeout", DEFAULT_WAIT_TIMEOUT))


def parse_request(data: Any, default_region: str | None = None) -> CreateRequest:
    """Judge a create request completely before anything is looked up or written."""
    if not isinstance(data, dict):
        raise BadInput("the request must be a JSON object with type, cluster_id, region and params")
    unknown = sorted(set(data) - REQUEST_KEYS)
    if unknown:
        named = ", ".join(f"'{key}'{did_you_mean(key, REQUEST_KEYS)}" for key in unknown)
        raise BadInput(f"unknown request key {named}: a request takes {', '.join(sorted(REQUEST_KEYS))}")
    op_type = _operation_type(data)
    cluster_id, region = _where(data, default_region)
    params = _params(op_type, data)
    pause_before = _pause_before(data)
    wait_timeout = _wait_timeout(data)
    return CreateRequest(
        type=op_type,
        cluster_id=cluster_id,
        region=region,
        params=params,
        raw_params=params.model_dump(mode="json"),
        pause_before_steps=pause_before,
        wait_timeout=wait_timeout,
    )


def describe_for_plan(rds: RdsPort, request: CreateRequest) -> ClusterSnapshot:
    """The cluster the request names, available: anything else is bad input."""
    cluster = rds.find_cluster(request.cluster_id)
    if cluster is None:
        raise BadInput(f"cluster '{request.cluster_id}' not found in {request.region}")
    if cluster.status != "available":
        raise BadInput(f"cluster '{cluster.id}' is {cluster.status}, not available; retry when it is available")
    return cluster


def _check_pauses(plan: Plan, refs: list[str]) -> None:
    for ref in refs:
        if not any(step_matches(s, ref) for s in plan.steps):
            raise BadInput(refusal_of_pause_ref(ref, plan.steps))


def plan_request(request: CreateRequest, rds: RdsPort, now: datetime, new_id: Callable[[str], str]) -> PlanPreview:
    """Describe, preflight and plan a judged request; changes nothing anywhere."""
    cluster = describe_for_plan(rds, request)
    # preflight is typed with the boto3 gateway until its checks take the port (the same methods)
    facts = preflight(request.type, rds, cluster, request.params, now=now)
    operation_id = new_id(cluster.id)
    plan = build_plan(request.type, cluster, request.params, operation_id, facts)
    _check_pauses(plan, request.pause_before_steps)
    return PlanPreview(request=request, cluster=cluster, plan=plan, operation_id=operation_id)
