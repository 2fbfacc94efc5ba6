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
from rds_maint.model import PARAMS_BY_TYPE, OperationParams, OperationType, TargetKind
from rds_maint.planning.preflight import preflight
from rds_maint.planning.step_refs import refusal_of_pause_ref, step_matches
from rds_maint.plans import Plan, build_plan
from rds_maint.ports import RdsPort
from rds_maint.snapshots import ClusterSnapshot, InstanceSnapshot, Target, target_kind

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
REQUEST_KEYS = frozenset(
    {"type", "cluster_id", "instance_id", "region", "params", "pause_before_steps", "wait_timeout"}
)


@dataclass(frozen=True)
class CreateRequest:
    type: OperationType
    cluster_id: str | None
    region: str
    params: OperationParams
    raw_params: dict[str, Any]
    pause_before_steps: list[str]
    wait_timeout: int
    instance_id: str | None = None

    @property
    def target_id(self) -> str:
        """What the operation will change and lock (see `Operation.target_id`)."""
        return self.cluster_id or self.instance_id or ""

    @property
    def target_label(self) -> str:
        return f"instance {self.instance_id}" if self.instance_id else f"cluster {self.cluster_id}"


@dataclass(frozen=True)
class PlanPreview:
    request: CreateRequest
    target: Target
    plan: Plan
    operation_id: str

    @property
    def kind(self) -> TargetKind:
        return target_kind(self.target)

    @property
    def cluster(self) -> ClusterSnapshot:
        """The cluster a cluster operation was planned on; a bug to ask it of a DB instance's plan."""
        if not isinstance(self.target, ClusterSnapshot):
            raise TypeError(f"the plan targets DB instance {self.target.id}, not a cluster")
        return self.target


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


def _identifier(data: dict[str, Any], key: str, what: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{key} must be the {what} identifier, e.g. orders-prod (got {value!r})")
    return value


def _where(data: dict[str, Any], default_region: str | None) -> tuple[str | None, str | None, str]:
    cluster_id = _identifier(data, "cluster_id", "DB cluster")
    instance_id = _identifier(data, "instance_id", "DB instance")
    if cluster_id and instance_id:
        raise BadInput(
            "name one target, not both: cluster_id (an Aurora or Multi-AZ DB cluster) or instance_id "
            "(an RDS DB instance)"
        )
    if not cluster_id and not instance_id:
        raise BadInput(
            "a target is required: cluster_id (an Aurora or Multi-AZ DB cluster, e.g. orders-prod) or "
            "instance_id (an RDS DB instance, e.g. orders-db)"
        )
    region = data.get("region") or default_region
    if not isinstance(region, str) or not region.strip():
        raise BadInput(
            "region is required (e.g. us-east-1): pass --region, set AWS_REGION, or give the profile one "
            "(aws configure set region us-east-1 --profile PROFILE)"
        )
    return cluster_id, instance_id, region


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
        raise BadInput("the request must be a JSON object with type, cluster_id (or instance_id), region and params")
    unknown = sorted(set(data) - REQUEST_KEYS)
    if unknown:
        named = ", ".join(f"'{key}'{did_you_mean(key, REQUEST_KEYS)}" for key in unknown)
        raise BadInput(f"unknown request key {named}: a request takes {', '.join(sorted(REQUEST_KEYS))}")
    op_type = _operation_type(data)
    cluster_id, instance_id, region = _where(data, default_region)
    params = _params(op_type, data)
    pause_before = _pause_before(data)
    wait_timeout = _wait_timeout(data)
    return CreateRequest(
        type=op_type,
        cluster_id=cluster_id,
        instance_id=instance_id,
        region=region,
        params=params,
        raw_params=params.model_dump(mode="json"),
        pause_before_steps=pause_before,
        wait_timeout=wait_timeout,
    )


def describe_for_plan(rds: RdsPort, request: CreateRequest) -> Target:
    """The cluster or DB instance the request names, available: anything else is bad input."""
    if request.instance_id is not None:
        return _describe_instance(rds, request.instance_id, request.region, request.type)
    cluster_id = request.cluster_id or ""
    cluster = rds.find_cluster(cluster_id)
    if cluster is None:
        hint = ""
        if rds.find_instance(cluster_id) is not None:
            hint = f"; '{cluster_id}' is a DB instance: name it with instance_id (--instance {cluster_id})"
        raise BadInput(f"cluster '{cluster_id}' not found in {request.region}{hint}")
    if cluster.status != "available":
        raise BadInput(f"cluster '{cluster.id}' is {cluster.status}, not available; retry when it is available")
    return cluster


def _describe_instance(rds: RdsPort, instance_id: str, region: str, op_type: OperationType) -> InstanceSnapshot:
    instance = rds.find_instance(instance_id)
    if instance is None:
        hint = ""
        if rds.find_cluster(instance_id) is not None:
            hint = f"; '{instance_id}' is a DB cluster: name it with cluster_id (--cluster {instance_id})"
        raise BadInput(f"DB instance '{instance_id}' not found in {region}{hint}")
    if instance.cluster_id is not None:
        raise BadInput(
            f"DB instance '{instance_id}' is a member of cluster '{instance.cluster_id}': its class, storage, engine "
            f"and reboots are managed through the cluster; name the cluster instead (--cluster {instance.cluster_id})"
        )
    # storage-optimization: the storage preflight refuses it with the time the next storage change is allowed (A2)
    optimizing = instance.status == "storage-optimization" and op_type is OperationType.STORAGE_TYPE_CHANGE
    if instance.status != "available" and not optimizing:
        raise BadInput(f"DB instance '{instance_id}' is {instance.status}, not available; retry when it is available")
    return instance


def _check_pauses(plan: Plan, refs: list[str]) -> None:
    for ref in refs:
        if not any(step_matches(s, ref) for s in plan.steps):
            raise BadInput(refusal_of_pause_ref(ref, plan.steps))


def plan_request(request: CreateRequest, rds: RdsPort, now: datetime, new_id: Callable[[str], str]) -> PlanPreview:
    """Describe, preflight and plan a judged request; changes nothing anywhere."""
    target = describe_for_plan(rds, request)
    facts = preflight(request.type, rds, target, request.params, now=now)
    operation_id = new_id(target.id)
    plan = build_plan(request.type, target, request.params, operation_id, facts)
    _check_pauses(plan, request.pause_before_steps)
    return PlanPreview(request=request, target=target, plan=plan, operation_id=operation_id)
