"""The operation record: what is stored, what drivers report, what outside tests read.

JSON keys here are the contract of DESIGN section 2 and 4; everything the engine
needs to resume after a crash lives in these models, nowhere else.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rds_maint.request_tally import RequestTally

__all__ = [
    "FINAL_STATES",
    "PARAMS_BY_TYPE",
    "PROGRESS_KEYS",
    "SCHEMA_VERSION",
    "TARGET_KINDS",
    "EngineUpgradeParams",
    "Event",
    "InstanceCycleParams",
    "InstanceTypeChangeParams",
    "Intervention",
    "Operation",
    "OperationParams",
    "OperationState",
    "OperationType",
    "Outcome",
    "PauseRequest",
    "ResumeAction",
    "Step",
    "StepProgress",
    "StepResult",
    "StepState",
    "StorageTypeChangeParams",
    "TargetKind",
]

# 2: the engine's bookkeeping moved out of `Step.result` into `Step.progress` (a v1 record migrates on load).
SCHEMA_VERSION = 2


# What a target turned out to be once described (DESIGN section 10): a cluster_id names an Aurora or a
# Multi-AZ DB cluster, an instance_id an RDS DB instance (Single-AZ or Multi-AZ).
TargetKind = Literal["aurora_cluster", "multi_az_cluster", "db_instance"]
TARGET_KINDS: tuple[TargetKind, ...] = ("aurora_cluster", "multi_az_cluster", "db_instance")


class OperationType(StrEnum):
    INSTANCE_TYPE_CHANGE = "instance_type_change"
    STORAGE_TYPE_CHANGE = "storage_type_change"
    ENGINE_UPGRADE = "engine_upgrade"
    INSTANCE_CYCLE = "instance_cycle"


class OperationState(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({OperationState.COMPLETED, OperationState.FAILED, OperationState.ROLLED_BACK})


class StepState(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


class ResumeAction(StrEnum):
    CONTINUE = "continue"
    ABORT = "abort"
    ROLLBACK = "rollback"
    MARK_COMPLETE = "mark_complete"


class Outcome(StrEnum):
    CONTINUE = "continue"
    WAIT = "wait"
    INTERVENTION = "intervention"
    COMPLETED = "completed"
    FAILED = "failed"


class _Params(BaseModel):
    """Base for per-type params: unknown keys and wrong types are errors, never ignored."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _clean_names(value: list[str]) -> list[str]:
    for name in value:
        if not name.strip():
            raise ValueError("instance identifiers must not be empty")
    if len(set(value)) != len(value):
        raise ValueError("instance identifiers must not repeat")
    return value


class InstanceTypeChangeParams(_Params):
    target_instance_type: str = Field(min_length=1)
    exclude_instances: list[str] = Field(default_factory=list)
    skip_temp_instance: bool = False
    # A Single-AZ DB instance is down for the whole class change: refused unless the request accepts it.
    allow_downtime: bool = False

    @field_validator("target_instance_type")
    @classmethod
    def _class_shape(cls, value: str) -> str:
        if not value.startswith("db.") or value.strip() != value or len(value.split(".")) != 3:
            raise ValueError(f"'{value}' is not an instance class (expected a name such as db.r6g.xlarge)")
        return value

    @field_validator("exclude_instances")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        return _clean_names(value)


class StorageTypeChangeParams(_Params):
    target_storage_type: str = Field(min_length=1)
    iops: int | None = Field(default=None, gt=0)
    storage_throughput: int | None = Field(default=None, gt=0)
    # GiB, DB instances and Multi-AZ DB clusters only: storage only grows, by at least 10 % (AWS's rule).
    allocated_storage: int | None = Field(default=None, gt=0)
    exclude_instances: list[str] = Field(default_factory=list)
    skip_temp_instance: bool = False

    @field_validator("exclude_instances")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        return _clean_names(value)


class EngineUpgradeParams(_Params):
    target_engine_version: str = Field(min_length=1)
    switchover_timeout: int = Field(default=300, ge=30, le=3600)
    db_cluster_parameter_group_name: str | None = None
    db_instance_parameter_group_name: str | None = None
    pause_before_switchover: bool = True
    skip_proxy_retarget: bool = False
    pause_before_proxy_deregister: bool = True
    pause_before_cleanup: bool = True
    old_cluster_retention_hours: int = Field(default=0, ge=0)
    # DB instances: Blue/Green (the default) or an in-place upgrade, down for its whole length, only if asked.
    method: Literal["blue_green", "in_place"] = "blue_green"
    # DB instances, Blue/Green only: the green instance's shape (CreateBlueGreenDeployment Target*).
    target_db_instance_class: str | None = None
    target_storage_type: str | None = None
    target_iops: int | None = Field(default=None, gt=0)
    target_storage_throughput: int | None = Field(default=None, gt=0)
    target_allocated_storage: int | None = Field(default=None, gt=0)
    upgrade_target_storage_config: bool | None = None


class InstanceCycleParams(_Params):
    exclude_instances: list[str] = Field(default_factory=list)
    skip_temp_instance: bool = False
    only_pending_reboot: bool = False
    # A Single-AZ DB instance is down while it reboots: refused unless the request accepts it.
    allow_downtime: bool = False
    # Multi-AZ DB clusters: one RebootDBCluster (every member at once) instead of one member at a time.
    reboot_whole_cluster: bool = False

    @field_validator("exclude_instances")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        return _clean_names(value)


OperationParams = InstanceTypeChangeParams | StorageTypeChangeParams | EngineUpgradeParams | InstanceCycleParams

PARAMS_BY_TYPE: dict[OperationType, type[_Params]] = {
    OperationType.INSTANCE_TYPE_CHANGE: InstanceTypeChangeParams,
    OperationType.STORAGE_TYPE_CHANGE: StorageTypeChangeParams,
    OperationType.ENGINE_UPGRADE: EngineUpgradeParams,
    OperationType.INSTANCE_CYCLE: InstanceCycleParams,
}


class StepProgress(BaseModel):
    """The engine's bookkeeping of a step: written and read by the engine only, never by an action.

    Kept apart from `Step.result` (what the action recorded about AWS) so that no action can move the
    wait timeout or the lease by writing a key; schema 1 kept these keys in `result` (moved on load).
    """

    model_config = ConfigDict(extra="ignore")

    # when `run` was first called (the step left pending)
    attempt_started_at: datetime | None = None
    # the step lease: the attempt allowed to call `run`, until when (see rds_maint.engine.coordination)
    lease_attempt: str | None = None
    lease_until: datetime | None = None
    # the start of the wait timeout: the first wait, moved by `Wait(progressing=True)` and by a continue
    wait_started_at: datetime | None = None
    # the AWS transition the poll policy times, and since when
    poll_transition: str | None = None
    poll_started_at: datetime | None = None
    # the latest reason a step could not act yet, and since when it has been refused
    busy_reason: str | None = None
    busy_since: datetime | None = None
    # the operator answered the pause before this step (or the engine added it as a clean-up)
    pause_acknowledged: bool = False
    # when the driver that saved this wait looks again (the save's time plus the wait it was told): a reader
    # such as `status --watch` sleeps until then instead of guessing; None while no wait is pending
    next_look_at: datetime | None = None


PROGRESS_KEYS = frozenset(StepProgress.model_fields)


class Step(BaseModel):
    """One unit of the plan: an action that may change AWS, then (maybe) a condition to wait for."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _progress_out_of_result(cls, data: Any) -> Any:
        """Schema 1: the engine's keys lived in `result`; move them into `progress` (`progress` wins)."""
        if not isinstance(data, dict) or not isinstance(data.get("result"), dict):
            return data
        result = data["result"]
        moved = {key: result[key] for key in PROGRESS_KEYS if key in result}
        if not moved:
            return data
        progress = data.get("progress")
        kept = progress.model_dump() if isinstance(progress, StepProgress) else dict(progress or {})
        return {
            **data,
            "result": {k: v for k, v in result.items() if k not in PROGRESS_KEYS},
            "progress": {**moved, **{k: v for k, v in kept.items() if v not in (None, False)}},
        }

    id: str
    name: str
    description: str
    state: StepState = StepState.PENDING
    action: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    wait_condition: str | None = None
    # Transient AWS failures in a row (each after the gateway's own retries); past max_retries, pause.
    retry_count: int = 0
    max_retries: int = 20
    progress: StepProgress = Field(default_factory=StepProgress)


class Intervention(BaseModel):
    """A pending Step Functions task token, so an operator can answer by operation id."""

    task_token: str
    step_name: str | None = None
    step_index: int | None = None
    recorded_at: datetime
    notifications: int = 1
    # The execution waiting for the answer (its region is where the answer must be sent).
    execution_arn: str | None = None


class PauseRequest(BaseModel):
    """A person asked a running operation to pause at its next step boundary (`rds-maint pause`).

    Kept on the operation, not in the asking process, so that whichever driver takes the next step (this
    machine's `run`, another's, a Step Functions execution) honours it; the engine clears it when it pauses.
    """

    actor: str
    comment: str | None = None
    at: datetime


class Operation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    type: OperationType
    state: OperationState = OperationState.CREATED
    # The target (DESIGN section 10): a DB cluster (Aurora or Multi-AZ) or a DB instance, exactly one set.
    cluster_id: str | None = None
    instance_id: str | None = None
    # Which kind of target the plan was made for (records older than DB instances: Aurora).
    target_type: TargetKind = "aurora_cluster"
    region: str
    parameters: dict[str, Any]
    steps: list[Step]
    current_step_index: int = 0
    error: str | None = None
    pause_reason: str | None = None
    wait_timeout: int = 2700
    pause_before_steps: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    version: int = 0
    intervention: Intervention | None = None
    # What the plan learnt from the cluster at create time (original writer, temp instance
    # name, original classes and tiers): rollback and verification read it back.
    context: dict[str, Any] = Field(default_factory=dict)
    # "abort" or "rollback" while the clean-up steps run; decides the final state.
    unwind: Literal["abort", "rollback"] | None = None
    # A pause asked for while the operation runs; None in records written before it existed.
    pause_requested: PauseRequest | None = None
    # The campaign this operation is a target of (rds_maint.campaign_model), if any: its notices carry it.
    campaign_id: str | None = None
    # The campaign's share of the account's RDS request budget: the engine looks at a waiting step at most
    # this often (0: no floor beyond the poll policy's own).
    min_look_seconds: int = Field(default=0, ge=0, le=600)
    # A campaign target's RDS requests by ten-second slot, added by each save of the engine that sent them
    # (`EngineCore.save`): the campaign adds them up into the rate it used. None: not a campaign target.
    requests: RequestTally | None = None
    schema_version: int = SCHEMA_VERSION

    @model_validator(mode="after")
    def _migrated(self) -> Operation:
        """A record of an older schema was migrated while it loaded (its steps): it is written back as this one."""
        if (self.cluster_id is None) == (self.instance_id is None):
            raise ValueError("an operation names exactly one target: cluster_id or instance_id")
        self.schema_version = SCHEMA_VERSION
        return self

    @property
    def target_id(self) -> str:
        """What the operation changes, and the key of its lock: the engine asks this, never `cluster_id`."""
        return self.cluster_id or self.instance_id or ""

    @property
    def target_kind(self) -> Literal["cluster", "instance"]:
        """`cluster` (Aurora or Multi-AZ DB cluster) or `instance` (an RDS DB instance)."""
        return "instance" if self.instance_id else "cluster"

    @property
    def target_label(self) -> str:
        """How messages name the target: `cluster orders-prod` or `instance orders-db`."""
        return f"{self.target_kind} {self.target_id}"

    @property
    def cluster(self) -> str:
        """The DB cluster id of an operation on a cluster; a bug (never bad input) to ask it of an instance's."""
        if self.cluster_id is None:
            raise TypeError(f"operation {self.id} targets DB instance {self.instance_id}, not a cluster")
        return self.cluster_id

    @property
    def current_step(self) -> Step | None:
        if 0 <= self.current_step_index < len(self.steps):
            return self.steps[self.current_step_index]
        return None


class Event(BaseModel):
    id: str
    operation_id: str
    type: str
    message: str
    data: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime
    # Who caused it, when a person did (an answer, a pause request, a forced unlock): an IAM identity ARN
    # or `os-user@host`; None for the engine's own steps.
    actor: str | None = None


class StepResult(BaseModel):
    """What one engine call reports: DESIGN section 4, every key always present."""

    operation_id: str | None
    operation_state: str | None
    step_index: int | None
    step_name: str | None
    step_action: str | None
    step_state: str | None
    outcome: Outcome
    wait_seconds: int = 0
    pause_reason: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation_id": self.operation_id,
            "operation_state": self.operation_state,
            "step_index": self.step_index,
            "step_name": self.step_name,
            "step_action": self.step_action,
            "step_state": self.step_state,
            "outcome": self.outcome.value,
            "continue": self.outcome is Outcome.CONTINUE,
            "needs_wait": self.outcome is Outcome.WAIT,
            "needs_intervention": self.outcome is Outcome.INTERVENTION,
            "completed": self.outcome is Outcome.COMPLETED,
            "failed": self.outcome is Outcome.FAILED,
            "wait_seconds": int(self.wait_seconds),
            "pause_reason": self.pause_reason,
            "error": self.error,
        }
