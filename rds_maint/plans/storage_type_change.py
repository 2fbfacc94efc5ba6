"""storage_type_change on Aurora: the cluster's storage changes in place; no temp instance, no failover.

check the cluster -> ModifyDBCluster StorageType (ApplyImmediately) -> wait until the cluster shows
the new type and is `available` -> verify. Instances on NVMe-based classes apply the new storage
configuration only after an engine restart: the plan says so and offers an instance_cycle to follow;
it never reboots anything itself.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, Literal

from rds_maint.aurora_storage import IO_OPTIMIZED, NAMES, STANDARD, as_utc, is_nvme_class
from rds_maint.model import Operation, Step, StorageTypeChangeParams
from rds_maint.plans.base import Plan, StepBuilder
from rds_maint.snapshots import ClusterSnapshot, MemberSnapshot
from rds_maint.steps.cluster import (
    CHECK_CLUSTER_STORAGE,
    MODIFY_CLUSTER_STORAGE,
    VERIFY_CLUSTER_STORAGE,
    CheckClusterStorageParams,
    ModifyClusterStorageParams,
    VerifyClusterStorageParams,
)

__all__ = [
    "ROLLBACK_QUIET_SECONDS",
    "StorageTypeChangeFacts",
    "follow_up_cycle",
    "plan_storage_type_change",
    "unwind_storage_type_change",
]

# Rollback looks this long at a cluster that already reads the original type before it calls it done:
# longer than AWS's quiet moment after a storage change was accepted.
ROLLBACK_QUIET_SECONDS = 120


@dataclass(frozen=True)
class StorageTypeChangeFacts:
    """What the preflight read: the storage type the cluster has now (what a rollback goes back to)."""

    current_storage_type: str | None = None


def _name(storage_type: str) -> str:
    return f"{storage_type} ({NAMES.get(storage_type, storage_type)})"


def _region(cluster: ClusterSnapshot) -> str | None:
    arn = str(cluster.raw.get("DBClusterArn") or "")
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def follow_up_cycle(
    cluster: ClusterSnapshot, params: StorageTypeChangeParams
) -> tuple[list[MemberSnapshot], str | None]:
    """NVMe-based members that need a restart, and the instance_cycle command that restarts only them."""
    nvme = [m for m in cluster.members if is_nvme_class(m.instance.instance_class)]
    wanted = [m for m in nvme if m.id not in params.exclude_instances and not m.instance.is_autoscaled]
    if not wanted:
        return nvme, None
    wanted_ids = {m.id for m in wanted}
    exclude = [m.id for m in cluster.members if m.id not in wanted_ids and not m.instance.is_autoscaled]
    command = ["rds-maint", "run", "--type", "instance_cycle", "--cluster", cluster.id]
    region = _region(cluster)
    if region:
        command += ["--region", region]
    if exclude:
        command += ["--param", f"exclude_instances={','.join(exclude)}"]
    if params.skip_temp_instance:
        command += ["--param", "skip_temp_instance=true"]
    return nvme, shlex.join(command)


def plan_storage_type_change(
    cluster: ClusterSnapshot, params: StorageTypeChangeParams, operation_id: str, facts: StorageTypeChangeFacts
) -> Plan:
    target = params.target_storage_type
    current = facts.current_storage_type or cluster.storage_type or STANDARD
    next_allowed = cluster.io_optimized_next_allowed
    builder = StepBuilder()
    builder.step(
        CHECK_CLUSTER_STORAGE,
        CheckClusterStorageParams(cluster_id=cluster.id, target_storage_type=target),
        name="check_cluster",
        description=f"Check that cluster {cluster.id} is available and no other storage change is under way",
    )
    builder.step(
        MODIFY_CLUSTER_STORAGE,
        ModifyClusterStorageParams(
            cluster_id=cluster.id,
            storage_type=target,
            original_storage_type=current,
            next_allowed_before=as_utc(next_allowed).isoformat() if next_allowed else None,
        ),
        name="modify_storage",
        description=f"Change the storage of cluster {cluster.id} from {_name(current)} to {_name(target)} in place "
        "(ModifyDBCluster StorageType, ApplyImmediately); wait until the cluster shows it and is available",
    )
    nvme, command = follow_up_cycle(cluster, params)
    builder.step(
        VERIFY_CLUSTER_STORAGE,
        VerifyClusterStorageParams(cluster_id=cluster.id, storage_type=target, restart_needed=[m.id for m in nvme]),
        name="verify",
        description=f"Verify cluster {cluster.id}: storage {target}, nothing pending, available",
    )
    notes = [
        f"Aurora changes storage in place: no temp instance, no failover; {cluster.id} stays available",
    ]
    if target == IO_OPTIMIZED:
        notes.append(
            "AWS allows the next switch to I/O-Optimized only 30 days after this one "
            "(IOOptimizedNextAllowedModificationTime); switching back to Standard is allowed at any time"
        )
    if nvme:
        classes = ", ".join(f"{m.id} ({m.instance.instance_class})" for m in nvme)
        note = (
            f"NVMe-based instance classes need an engine restart before they use the new storage configuration: "
            f"{classes}. This plan does not reboot them."
        )
        note += f" Follow with an instance cycle: {command}" if command else " Reboot them when convenient."
        notes.append(note)
    elif params.exclude_instances or params.skip_temp_instance:
        notes.append(
            "exclude_instances and skip_temp_instance matter only for a follow-up instance cycle; none is needed "
            "(no NVMe-based instance class in the cluster)"
        )
    context: dict[str, Any] = {
        "original_storage_type": current,
        "target_storage_type": target,
        "restart_needed": [m.id for m in nvme],
        "follow_up_command": command,
    }
    return Plan(steps=builder.steps, notes=notes, context=context)


def unwind_storage_type_change(operation: Operation, kind: Literal["abort", "rollback"]) -> list[Step]:
    """abort: nothing was created, nothing to remove. rollback: switch back to the original type.

    The rollback step is added whatever the forward step's state: it changes nothing if the cluster
    already has the original type (a forward call lost with a crashed process is still caught).
    """
    if kind == "abort":
        return []
    original = str(operation.context.get("original_storage_type") or STANDARD)
    step = next((s for s in operation.steps if s.action == MODIFY_CLUSTER_STORAGE.action), None)
    forward = MODIFY_CLUSTER_STORAGE.parse_params(step.parameters) if step else None
    builder = StepBuilder(offset=len(operation.steps))
    how = (
        "switching to Standard is always allowed"
        if original == STANDARD
        else "AWS refuses a switch to I/O-Optimized within 30 days of the last one: the operation then pauses"
    )
    builder.step(
        MODIFY_CLUSTER_STORAGE,
        ModifyClusterStorageParams(
            cluster_id=operation.cluster_id,
            storage_type=original,
            original_storage_type=forward.storage_type if forward else None,
            next_allowed_before=forward.next_allowed_before if forward else None,
            confirm_quiet_seconds=ROLLBACK_QUIET_SECONDS,
        ),
        name="rollback_storage",
        description=f"Rollback: change the storage of {operation.cluster_id} back to {_name(original)} ({how})",
    )
    builder.step(
        VERIFY_CLUSTER_STORAGE,
        VerifyClusterStorageParams(
            cluster_id=operation.cluster_id,
            storage_type=original,
            restart_needed=list(operation.context.get("restart_needed") or []),
        ),
        name="rollback_verify",
        description=f"Rollback: verify cluster {operation.cluster_id} has storage {original} again",
    )
    return builder.steps
