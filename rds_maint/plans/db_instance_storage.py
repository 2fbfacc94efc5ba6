"""storage_type_change on an RDS DB instance (Single-AZ or Multi-AZ): one ModifyDBInstance of its storage.

check the instance -> ModifyDBInstance StorageType/Iops/StorageThroughput/AllocatedStorage (ApplyImmediately;
wait until the instance shows it, nothing pending) -> wait until it has left `storage-optimization` -> verify.
The change runs online: no failover, no reboot. AWS cannot undo it (storage never shrinks, and another type
change would open another 6-hour window), so abort removes nothing (nothing is created) and rollback only
records what stays changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rds_maint.instance_storage import (
    GP3,
    STANDARD,
    InstanceStorageRequest,
    changes_text,
    gp3_limits,
)
from rds_maint.model import Operation, Step, StepState, StorageTypeChangeParams
from rds_maint.plans.base import Plan, StepBuilder, narrowed
from rds_maint.snapshots import InstanceSnapshot
from rds_maint.steps.cluster import RECORD_NOTE, RecordNoteParams
from rds_maint.steps.db_instance_storage import (
    CHECK_DB_INSTANCE_STORAGE,
    MODIFY_DB_INSTANCE_STORAGE,
    VERIFY_DB_INSTANCE_STORAGE,
    WAIT_DB_INSTANCE_OPTIMIZATION,
    DbInstanceStorageParams,
    ModifyDbInstanceStorageParams,
)

__all__ = [
    "DbInstanceStorageFacts",
    "plan_db_instance_storage_change",
    "rollback_limits",
    "unwind_db_instance_storage_change",
]


@dataclass(frozen=True)
class DbInstanceStorageFacts:
    """What the preflight judged: the storage now and the storage to ask for (validated), and the last storage
    change AWS reported (DescribeEvents), if any."""

    request: InstanceStorageRequest
    last_storage_change: datetime | None = None


def _notes(instance: InstanceSnapshot, request: InstanceStorageRequest) -> list[str]:
    target = request.target
    az = "Multi-AZ (primary and standby change together)" if instance.multi_az else "Single-AZ"
    notes = [
        f"{instance.id} ({instance.engine} {instance.engine_version}, {az}): {changes_text(request)}",
        f"The change runs online: {instance.id} stays available (no failover, no reboot); I/O may be slower while "
        "AWS optimizes the storage (status storage-optimization, hours, up to days for large volumes)",
        "The operation ends only once the instance has left storage-optimization: until then AWS refuses any other "
        "storage change and a Blue/Green switchover, so `completed` means the instance is back to its ordinary state",
        "Cannot be undone: AWS never shrinks storage, and another storage change is allowed only 6 hours after this "
        "one and once optimization has ended; rollback changes nothing back",
    ]
    if request.filled:
        notes.append(f"Not given, so kept or set to gp3's baseline: {', '.join(request.filled)}")
    if target.storage_type == GP3 and target.iops is None and target.allocated_storage is not None:
        limits = gp3_limits(instance.engine, target.allocated_storage)
        notes.append(
            f"gp3 below {limits.threshold_gib} GiB on {instance.engine}: a fixed baseline of "
            f"{limits.baseline_iops} IOPS and {limits.baseline_throughput} MiB/s"
        )
    if target.storage_type == STANDARD:
        notes.append("standard is magnetic storage, kept by AWS for backward compatibility only; gp3 is its successor")
    if (
        instance.max_allocated_storage
        and target.allocated_storage
        and target.allocated_storage >= instance.max_allocated_storage
    ):
        notes.append(
            f"storage autoscaling's maximum ({instance.max_allocated_storage} GiB) is not above the new size: "
            "autoscaling will not grow it further until the maximum is raised"
        )
    if instance.read_replica_ids:
        notes.append(f"Read replicas keep their own storage: {', '.join(instance.read_replica_ids)}")
    return notes


def plan_db_instance_storage_change(
    instance: InstanceSnapshot, params: StorageTypeChangeParams, operation_id: str, facts: object
) -> Plan:
    request = narrowed(facts, DbInstanceStorageFacts).request
    current, target = request.current, request.target
    goal = DbInstanceStorageParams(
        instance_id=instance.id,
        storage_type=str(target.storage_type),
        allocated_storage=target.allocated_storage,
        iops=target.iops,
        storage_throughput=target.storage_throughput,
    )
    arguments = request.modify_arguments()
    builder = StepBuilder()
    builder.step(
        CHECK_DB_INSTANCE_STORAGE,
        goal,
        name="check_instance",
        description=f"Check that DB instance {instance.id} is available and no other storage change is pending",
    )
    sent = ", ".join(
        f"{key} {value}"
        for key, value in (
            ("StorageType", arguments["storage_type"]),
            ("AllocatedStorage", arguments["allocated_storage"]),
            ("Iops", arguments["iops"]),
            ("StorageThroughput", arguments["storage_throughput"]),
        )
        if value is not None
    )
    builder.step(
        MODIFY_DB_INSTANCE_STORAGE,
        ModifyDbInstanceStorageParams(
            **goal.model_dump(),
            send_allocated_storage=arguments["allocated_storage"] is not None,
            from_storage_type=current.storage_type,
            from_allocated_storage=current.allocated_storage,
            from_iops=current.iops,
            from_storage_throughput=current.storage_throughput,
        ),
        name="modify_storage",
        description=f"Change the storage of {instance.id}: {changes_text(request)} (ModifyDBInstance {sent}, "
        "ApplyImmediately); wait until it shows the new storage with nothing pending",
    )
    builder.step(
        WAIT_DB_INSTANCE_OPTIMIZATION,
        goal,
        name="wait_optimization",
        description=f"Wait until {instance.id} has left storage-optimization (it stays available; I/O may be slower)",
    )
    builder.step(
        VERIFY_DB_INSTANCE_STORAGE,
        goal,
        name="verify",
        description=f"Verify {instance.id}: {target.text()}, nothing pending, available",
    )
    context = {
        "original_storage": current.text(),
        "target_storage": target.text(),
        "original_storage_type": current.storage_type,
        "target_storage_type": target.storage_type,
    }
    return Plan(steps=builder.steps, notes=_notes(instance, request), context=context)


def _modify_step(operation: Operation) -> Step | None:
    return next((s for s in operation.steps if s.action == MODIFY_DB_INSTANCE_STORAGE.action), None)


def _change_may_have_started(operation: Operation) -> bool:
    """The modify step ran (it notes the time before any call), so AWS may have the change."""
    step = _modify_step(operation)
    if step is None:
        return False
    record = MODIFY_DB_INSTANCE_STORAGE.parse_record(step.result)
    return step.state is not StepState.PENDING or record.modify_marked_at is not None


def rollback_limits(operation: Operation) -> str | None:
    """What a rollback of `operation` cannot undo, said before the answer is accepted (None: it undoes all)."""
    if not _change_may_have_started(operation):
        return None
    target = operation.context.get("target_storage") or "the new storage"
    original = operation.context.get("original_storage") or "the original storage"
    return (
        f"A storage change cannot be undone: AWS never shrinks storage, and changing the type back would be another "
        f"storage change, allowed only 6 hours after this one and once storage-optimization has ended. Rollback "
        f"changes nothing on {operation.target_label}: it keeps {target} (it had {original}); to go back, plan a "
        "new storage_type_change once AWS allows it"
    )


def unwind_db_instance_storage_change(operation: Operation, kind: Literal["abort", "rollback"]) -> list[Step]:
    """abort: nothing was created, nothing to remove. rollback: a note of what stays changed (nothing is sent)."""
    message = rollback_limits(operation)
    if kind == "abort" or message is None:
        return []
    builder = StepBuilder(offset=len(operation.steps))
    builder.step(
        RECORD_NOTE,
        RecordNoteParams(type="rollback_limits", message=message),
        name="storage_not_undone",
        description="Rollback: a storage change cannot be undone (recorded as an event)",
    )
    return builder.steps
