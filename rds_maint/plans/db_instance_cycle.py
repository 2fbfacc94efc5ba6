"""instance_cycle on an RDS DB instance: one reboot (with a failover to the standby when Multi-AZ).

check -> reboot -> verify. A Multi-AZ instance reboots with ForceFailover: the standby takes over first
(writes stop for about 1-2 minutes) and the old primary restarts as the standby. A Single-AZ instance is down
while it restarts (about 1-2 minutes): refused unless `allow_downtime`. `only_pending_reboot` is refused when
the parameter group does not read pending-reboot (nothing to do). A reboot cannot be undone: rollback says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rds_maint.errors import BadInput
from rds_maint.model import (
    InstanceCycleParams,
    Operation,
    Step,
    StepState,
)
from rds_maint.parameters import PENDING_REBOOT
from rds_maint.plans.base import Plan, StepBuilder, narrowed
from rds_maint.snapshots import InstanceSnapshot
from rds_maint.steps.cluster import RECORD_NOTE, RecordNoteParams
from rds_maint.steps.db_instance import (
    CHECK_DB_INSTANCE,
    REBOOT_DB_INSTANCE,
    REBOOT_DB_INSTANCE_OFFLINE,
    VERIFY_DB_INSTANCE,
    CheckDbInstanceParams,
    DbInstanceRebootParams,
    VerifyDbInstanceParams,
)

__all__ = [
    "DbInstanceRebootFacts",
    "check_reboot_request",
    "plan_db_instance_reboot",
    "rollback_limits",
    "unwind_db_instance_reboot",
]

_REBOOT_ACTIONS = (REBOOT_DB_INSTANCE.action, REBOOT_DB_INSTANCE_OFFLINE.action)


@dataclass(frozen=True)
class DbInstanceRebootFacts:
    """What the preflight learnt: how long a reboot usually takes (the downtime of a Single-AZ one)."""

    expected_seconds: float = 120.0


def _minutes(seconds: float) -> str:
    return f"about {max(1, round(seconds / 60))}-{max(2, round(seconds / 60) + 1)} minutes"


def check_reboot_request(instance: InstanceSnapshot, params: InstanceCycleParams, expected_seconds: float) -> None:
    """Refusals that need nothing beyond the snapshot (the preflight runs them first, the plan again)."""
    if params.exclude_instances:
        raise BadInput(
            f"exclude_instances applies to clusters only: DB instance '{instance.id}' is one instance; remove "
            "exclude_instances"
        )
    if params.skip_temp_instance:
        raise BadInput(
            f"skip_temp_instance applies to Aurora clusters only: no temp instance is made for DB instance "
            f"'{instance.id}'; remove skip_temp_instance"
        )
    if params.reboot_whole_cluster:
        raise BadInput(
            f"reboot_whole_cluster applies to Multi-AZ DB clusters only (RebootDBCluster): '{instance.id}' is a DB "
            "instance; remove reboot_whole_cluster"
        )
    if params.only_pending_reboot and instance.parameter_apply_status != PENDING_REBOOT:
        raise BadInput(
            f"only_pending_reboot: the parameter group {instance.parameter_group or '(unknown)'} of DB instance "
            f"'{instance.id}' reads {instance.parameter_apply_status or 'no status'}, not {PENDING_REBOOT}; nothing "
            f"to reboot (aws rds describe-db-instances --db-instance-identifier {instance.id} --query "
            "'DBInstances[0].DBParameterGroups')"
        )
    if not instance.multi_az and not params.allow_downtime:
        raise BadInput(
            f"DB instance '{instance.id}' is Single-AZ: it is down while it reboots ({_minutes(expected_seconds)}). "
            "Pass allow_downtime=true to accept it, or make it Multi-AZ first (aws rds modify-db-instance "
            f"--db-instance-identifier {instance.id} --multi-az --apply-immediately) so that it fails over instead"
        )


def plan_db_instance_reboot(
    instance: InstanceSnapshot, params: InstanceCycleParams, operation_id: str, facts: object
) -> Plan:
    typed = DbInstanceRebootFacts() if facts is None else narrowed(facts, DbInstanceRebootFacts)
    check_reboot_request(instance, params, typed.expected_seconds)
    pending = instance.parameter_apply_status == PENDING_REBOOT
    builder = StepBuilder()
    builder.step(
        CHECK_DB_INSTANCE,
        CheckDbInstanceParams(
            instance_id=instance.id,
            multi_az=instance.multi_az,
            instance_class=instance.instance_class,
            engine_version=instance.engine_version,
        ),
        name="check_db_instance",
        description=f"Check that {instance.id} is available and {'Multi-AZ' if instance.multi_az else 'Single-AZ'} "
        "as planned, with nothing pending",
    )
    why = f"parameters {PENDING_REBOOT}" if pending else "reboot"
    builder.step(
        REBOOT_DB_INSTANCE if instance.multi_az else REBOOT_DB_INSTANCE_OFFLINE,
        DbInstanceRebootParams(
            instance_id=instance.id, force_failover=instance.multi_az, only_if_pending=params.only_pending_reboot
        ),
        name=f"reboot:{instance.id}",
        description=f"Reboot {instance.id} ({why})"
        + (
            " with a failover: the standby takes over first (writes stop for about 1-2 minutes)"
            if instance.multi_az
            else f": down until it has restarted ({_minutes(typed.expected_seconds)})"
        )
        + "; wait until it is available"
        + (" with its parameters in-sync" if pending else ""),
    )
    builder.step(
        VERIFY_DB_INSTANCE,
        VerifyDbInstanceParams(
            instance_id=instance.id,
            instance_class=instance.instance_class,
            multi_az=instance.multi_az,
            require_in_sync=pending,
        ),
        name="verify",
        description=f"Verify {instance.id}: available, nothing pending" + (", parameters in-sync" if pending else ""),
    )
    notes = [
        f"{instance.id} reboots once"
        + (
            ", failing over to its standby; the endpoint keeps its name, its address moves to the other zone"
            if instance.multi_az
            else f", down {_minutes(typed.expected_seconds)} (Single-AZ; allow_downtime accepted it)"
        )
    ]
    return Plan(steps=builder.steps, notes=notes, context={"instance_id": instance.id, "multi_az": instance.multi_az})


def _reboot_sent(operation: Operation) -> list[Step]:
    """Reboot steps that may have sent RebootDBInstance (they marked the time, the first turn of two)."""
    return [
        s
        for s in operation.steps
        if s.action in _REBOOT_ACTIONS and REBOOT_DB_INSTANCE.parse_record(s.result).reboot_marked_at
    ]


def unwind_db_instance_reboot(operation: Operation, kind: Literal["abort", "rollback"]) -> list[Step]:
    """Nothing to put back: the instance was rebooted or not. Rollback records that a reboot stays done."""
    limits = rollback_limits(operation)
    if kind == "abort" or limits is None:
        return []
    builder = StepBuilder(offset=len(operation.steps))
    builder.step(
        RECORD_NOTE,
        RecordNoteParams(type="rollback_limits", message=limits),
        name="reboot_not_undone",
        description="Rollback: a reboot cannot be undone (recorded as an event)",
    )
    return builder.steps


def rollback_limits(operation: Operation) -> str | None:
    """What a rollback of `operation` cannot undo, said before the answer is accepted (None: it undoes all)."""
    steps = _reboot_sent(operation)
    if not steps:
        return None
    step = steps[0]
    instance_id = REBOOT_DB_INSTANCE.parse_params(step.parameters).instance_id
    done = "was rebooted" if step.state is StepState.COMPLETED else "may have been rebooted"
    return f"A reboot cannot be undone: {instance_id} {done}. Rollback changes nothing on AWS"
