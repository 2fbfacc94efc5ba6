"""instance_type_change on an RDS DB instance: one ModifyDBInstance of its class.

check -> change the class -> verify. A Multi-AZ instance: RDS changes the standby first, fails over to
it (a short interruption, typically 60-120 s: FIELD_NOTES 5.3), then changes the old primary; the endpoint
keeps its name. A Single-AZ instance is down for the whole change: refused unless `allow_downtime`.
Rollback changes the class back: another failover, or another downtime. Abort leaves the class as AWS has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rds_maint.errors import BadInput
from rds_maint.model import (
    InstanceTypeChangeParams,
    Operation,
    Step,
)
from rds_maint.plans.base import Plan, StepBuilder, narrowed
from rds_maint.plans.rollback import TOUCHED
from rds_maint.snapshots import InstanceSnapshot
from rds_maint.steps.cluster import RECORD_NOTE, RecordNoteParams
from rds_maint.steps.db_instance import (
    CHECK_DB_INSTANCE,
    MODIFY_DB_INSTANCE_CLASS,
    MODIFY_DB_INSTANCE_CLASS_OFFLINE,
    VERIFY_DB_INSTANCE,
    CheckDbInstanceParams,
    DbInstanceClassParams,
    VerifyDbInstanceParams,
)

__all__ = [
    "DbInstanceClassFacts",
    "check_class_request",
    "plan_db_instance_class_change",
    "rollback_limits",
    "unwind_db_instance_class_change",
]


@dataclass(frozen=True)
class DbInstanceClassFacts:
    """What the preflight learnt: how long a class change usually takes (the downtime of a Single-AZ one)."""

    expected_seconds: float = 1200.0


def _minutes(seconds: float) -> str:
    return f"about {max(1, round(seconds / 60))} minutes"


def check_class_request(instance: InstanceSnapshot, params: InstanceTypeChangeParams, expected_seconds: float) -> None:
    """Refusals that need no AWS call beyond the snapshot (the preflight runs them first, the plan again)."""
    target = params.target_instance_type
    if params.exclude_instances:
        raise BadInput(
            f"exclude_instances applies to clusters only: DB instance '{instance.id}' is one instance (its Multi-AZ "
            "standby, if any, is changed by RDS with it and cannot be left out); remove exclude_instances"
        )
    if params.skip_temp_instance:
        raise BadInput(
            f"skip_temp_instance applies to Aurora clusters only: no temp instance is made for DB instance "
            f"'{instance.id}' (a Multi-AZ instance fails over to its own standby); remove skip_temp_instance"
        )
    if instance.instance_class == target:
        raise BadInput(
            f"DB instance '{instance.id}' is already {target}; nothing to change (aws rds describe-db-instances "
            f"--db-instance-identifier {instance.id})"
        )
    if not instance.multi_az and not params.allow_downtime:
        raise BadInput(
            f"DB instance '{instance.id}' is Single-AZ: it is down for the whole class change to {target} "
            f"({_minutes(expected_seconds)}, often longer for large instances). Pass allow_downtime=true to accept "
            f"it, or make it Multi-AZ first (aws rds modify-db-instance --db-instance-identifier {instance.id} "
            "--multi-az --apply-immediately), which turns the downtime into a failover"
        )


def plan_db_instance_class_change(
    instance: InstanceSnapshot, params: InstanceTypeChangeParams, operation_id: str, facts: object
) -> Plan:
    typed = DbInstanceClassFacts() if facts is None else narrowed(facts, DbInstanceClassFacts)
    check_class_request(instance, params, typed.expected_seconds)
    target = params.target_instance_type
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
        description=f"Check that {instance.id} is available, {_az(instance)}, {instance.instance_class}, with nothing "
        "pending",
    )
    kind = MODIFY_DB_INSTANCE_CLASS if instance.multi_az else MODIFY_DB_INSTANCE_CLASS_OFFLINE
    builder.step(
        kind,
        DbInstanceClassParams(
            instance_id=instance.id,
            instance_class=target,
            original_class=instance.instance_class,
            multi_az=instance.multi_az,
        ),
        name=f"modify_class:{instance.id}",
        description=f"Change {instance.id} from {instance.instance_class} to {target}: "
        + (
            "RDS changes the standby, fails over to it (writes stop for about 1-2 minutes), then changes the old "
            "primary"
            if instance.multi_az
            else f"the instance is down until the change ends ({_minutes(typed.expected_seconds)})"
        ),
    )
    builder.step(
        VERIFY_DB_INSTANCE,
        VerifyDbInstanceParams(instance_id=instance.id, instance_class=target, multi_az=instance.multi_az),
        name="verify",
        description=f"Verify {instance.id}: available, {target}, nothing pending",
    )
    notes = [
        f"{instance.id} is Multi-AZ: one failover to the standby; the endpoint {instance.endpoint or instance.id} "
        "keeps its name, its address moves to the other zone (clients reconnect)"
        if instance.multi_az
        else f"{instance.id} is Single-AZ: down for the whole change ({_minutes(typed.expected_seconds)}); "
        "allow_downtime accepted it"
    ]
    context = {
        "instance_id": instance.id,
        "original_class": instance.instance_class,
        "multi_az": instance.multi_az,
    }
    return Plan(steps=builder.steps, notes=notes, context=context)


def _az(instance: InstanceSnapshot) -> str:
    return "Multi-AZ" if instance.multi_az else "Single-AZ"


def _class_changes(operation: Operation) -> list[Step]:
    actions = (MODIFY_DB_INSTANCE_CLASS.action, MODIFY_DB_INSTANCE_CLASS_OFFLINE.action)
    return [s for s in operation.steps if s.action in actions and s.state in TOUCHED]


def unwind_db_instance_class_change(operation: Operation, kind: Literal["abort", "rollback"]) -> list[Step]:
    """Rollback: change the class back (the same kind of step: another failover or downtime) and verify.
    Abort: nothing to put back (no temp instance, no writer moved by us); a change already sent goes on in AWS."""
    builder = StepBuilder(offset=len(operation.steps))
    changes = _class_changes(operation)
    if not changes:
        return []
    first = MODIFY_DB_INSTANCE_CLASS.parse_params(changes[0].parameters)
    if kind == "abort":
        builder.step(
            RECORD_NOTE,
            RecordNoteParams(
                type="abort_limits",
                message=f"Abort does not change {first.instance_id} back to {first.original_class}: a class change "
                "already sent goes on in AWS. Roll back instead to change it back",
            ),
            name="abort_leaves_class",
            description="Abort: a class change already sent is not undone (recorded as an event)",
        )
        return builder.steps
    step_kind = MODIFY_DB_INSTANCE_CLASS if first.multi_az else MODIFY_DB_INSTANCE_CLASS_OFFLINE
    builder.step(
        step_kind,
        DbInstanceClassParams(
            instance_id=first.instance_id,
            instance_class=first.original_class,
            original_class=first.instance_class,
            multi_az=first.multi_az,
        ),
        name=f"rollback_class:{first.instance_id}",
        description=f"Rollback: change {first.instance_id} back to {first.original_class} (if it is not)"
        + (": another failover to the standby" if first.multi_az else ": down again until the change ends"),
    )
    builder.step(
        VERIFY_DB_INSTANCE,
        VerifyDbInstanceParams(instance_id=first.instance_id, instance_class=first.original_class),
        name="rollback_verify",
        description=f"Rollback: verify {first.instance_id} is available as {first.original_class}, nothing pending",
    )
    return builder.steps


def rollback_limits(operation: Operation) -> str | None:
    """What a rollback of `operation` cannot undo, said before the answer is accepted (None: it undoes all)."""
    changes = _class_changes(operation)
    if not changes:
        return None
    first = MODIFY_DB_INSTANCE_CLASS.parse_params(changes[0].parameters)
    cost = (
        "another failover to the standby (writes stop for about 1-2 minutes)"
        if first.multi_az
        else "another downtime for the whole change (often 10-30 minutes)"
    )
    return f"Rollback changes {first.instance_id} back to {first.original_class} with a second class change: {cost}"
