"""What `list` shows of an operation, kept beside it in every store so a listing never reads whole operations.

An operation record grows with its steps and results (tens of KB); its summary is a few hundred bytes:
id, type, target, region, state, times, the current step and whether a driver holds it. Every store writes
it with each save and reads only summaries to list. The summary is derived (`summary_of`): the operation
record stays the truth, and a store that finds a summary missing or behind rebuilds it from the record.

The summary is a slotted dataclass, not a pydantic model: a listing of 10,000 operations holds 10,000 of
them, and each costs a few hundred bytes this way. Its JSON form (`to_json` / `from_json`) is the stored
contract.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from rds_maint.errors import StoreError
from rds_maint.model import Operation, OperationState, OperationType, StepState, TargetKind

__all__ = ["SUMMARY_SCHEMA", "OperationSummary", "summary_of"]

SUMMARY_SCHEMA = 1
_TARGET_TYPES: frozenset[str] = frozenset({"aurora_cluster", "multi_az_cluster", "db_instance"})
# Enum members by value: a dict lookup, several times cheaper than calling the enum (10,000 summaries a listing)
_TYPES = {member.value: member for member in OperationType}
_STATES = {member.value: member for member in OperationState}
_STEP_STATES = {member.value: member for member in StepState}


def _member(table: dict[str, Any], value: Any, name: str) -> Any:
    found = table.get(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"{name} {value!r}")
    return found


def _time(value: Any, where: str, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise StoreError(f"{where} has {name} {value!r}, not a time; it was left as it is")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise StoreError(f"{where} has {name} {value!r}, not a time; it was left as it is") from None


@dataclass(frozen=True, slots=True)
class OperationSummary:
    """One operation as `list` shows it; built by `summary_of`, stored as `to_json`."""

    id: str
    type: OperationType
    state: OperationState
    cluster_id: str | None
    instance_id: str | None
    target_type: TargetKind
    region: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    version: int
    step_index: int
    step_count: int
    step_name: str | None
    step_state: StepState | None
    # the current step's lease (a driver is running its action now) and a pending Step Functions answer
    lease_until: datetime | None
    awaiting_answer: bool

    @property
    def target_id(self) -> str:
        return self.cluster_id or self.instance_id or ""

    @property
    def target_kind(self) -> Literal["cluster", "instance"]:
        return "instance" if self.instance_id else "cluster"

    def to_json(self) -> str:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return json.dumps(
            {
                "summary_schema": SUMMARY_SCHEMA,
                "id": self.id,
                "type": self.type.value,
                "state": self.state.value,
                "cluster_id": self.cluster_id,
                "instance_id": self.instance_id,
                "target_type": self.target_type,
                "region": self.region,
                "created_at": iso(self.created_at),
                "updated_at": iso(self.updated_at),
                "started_at": iso(self.started_at),
                "completed_at": iso(self.completed_at),
                "version": self.version,
                "step_index": self.step_index,
                "step_count": self.step_count,
                "step_name": self.step_name,
                "step_state": self.step_state.value if self.step_state is not None else None,
                "lease_until": iso(self.lease_until),
                "awaiting_answer": self.awaiting_answer,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes, where: str) -> OperationSummary:
        """The summary a stored text holds, or a StoreError naming the record (never a half-read summary)."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"{where} is not a valid summary ({exc}); it was left as it is") from None
        if not isinstance(data, dict):
            raise StoreError(f"{where} is not a valid summary (a JSON {type(data).__name__}); it was left as it is")
        schema = data.get("summary_schema")
        if schema != SUMMARY_SCHEMA:
            raise StoreError(
                f"{where} has summary_schema {schema!r}; this rds-maint reads {SUMMARY_SCHEMA}; it was left as it is"
            )
        try:
            target_type = str(data["target_type"])
            if target_type not in _TARGET_TYPES:
                raise ValueError(f"target_type {target_type!r}")
            step_state = data.get("step_state")
            created_at = _time(data["created_at"], where, "created_at")
            updated_at = _time(data["updated_at"], where, "updated_at")
            if created_at is None or updated_at is None:
                raise ValueError("created_at and updated_at are required")
            return cls(
                id=sys.intern(str(data["id"])),
                type=_member(_TYPES, data["type"], "type"),
                state=_member(_STATES, data["state"], "state"),
                cluster_id=data.get("cluster_id"),
                instance_id=data.get("instance_id"),
                target_type=target_type,  # type: ignore[arg-type]  # checked against _TARGET_TYPES above
                region=sys.intern(str(data["region"])),
                created_at=created_at,
                updated_at=updated_at,
                started_at=_time(data.get("started_at"), where, "started_at"),
                completed_at=_time(data.get("completed_at"), where, "completed_at"),
                version=int(data["version"]),
                step_index=int(data["step_index"]),
                step_count=int(data["step_count"]),
                step_name=data.get("step_name"),
                step_state=_member(_STEP_STATES, step_state, "step_state") if step_state is not None else None,
                lease_until=_time(data.get("lease_until"), where, "lease_until"),
                awaiting_answer=bool(data.get("awaiting_answer", False)),
            )
        except (KeyError, ValueError, TypeError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            raise StoreError(f"{where} is not a valid summary ({problem}); it was left as it is") from None


def summary_of(op: Operation) -> OperationSummary:
    """The summary of an operation as it is now (as stored: call it on what a save returned)."""
    step = op.current_step
    return OperationSummary(
        id=op.id,
        type=op.type,
        state=op.state,
        cluster_id=op.cluster_id,
        instance_id=op.instance_id,
        target_type=op.target_type,
        region=op.region,
        created_at=op.created_at,
        updated_at=op.updated_at,
        started_at=op.started_at,
        completed_at=op.completed_at,
        version=op.version,
        step_index=op.current_step_index,
        step_count=len(op.steps),
        step_name=step.name if step is not None else None,
        step_state=step.state if step is not None else None,
        lease_until=step.progress.lease_until if step is not None else None,
        awaiting_answer=op.intervention is not None,
    )
