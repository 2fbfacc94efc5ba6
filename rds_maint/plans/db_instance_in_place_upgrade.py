"""engine_upgrade of an RDS DB instance in place (method: in_place): down while it upgrades.

check -> (pause) -> upgrade in place -> verify. Only when asked for (Blue/Green is the default): RDS
upgrades the primary and the standby together, so a Multi-AZ instance is down as long as a Single-AZ one,
for the whole upgrade. The plan pauses before the upgrade unless `pause_before_switchover` is false (the
moment the old version stops serving, as a switchover is with Blue/Green). Once sent, the upgrade cannot be
undone in place: rollback and abort before it change nothing, after it they say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rds_maint.errors import BadInput
from rds_maint.model import (
    EngineUpgradeParams,
    Operation,
    Step,
)
from rds_maint.plans.base import Plan, StepBuilder, narrowed
from rds_maint.plans.rollback import TOUCHED
from rds_maint.snapshots import InstanceSnapshot
from rds_maint.steps.cluster import RECORD_NOTE, RecordNoteParams
from rds_maint.steps.db_instance import (
    CHECK_DB_INSTANCE,
    UPGRADE_DB_INSTANCE_IN_PLACE,
    VERIFY_DB_INSTANCE,
    CheckDbInstanceParams,
    DbInstanceUpgradeParams,
    VerifyDbInstanceParams,
)

__all__ = [
    "BLUE_GREEN_ONLY",
    "DbInstanceUpgradeFacts",
    "check_in_place_request",
    "plan_db_instance_in_place_upgrade",
    "rollback_limits",
    "unwind_db_instance_in_place_upgrade",
]

# Params of the Blue/Green method only (a green copy's shape, a switchover, a retained old instance).
BLUE_GREEN_ONLY = (
    "target_db_instance_class",
    "target_storage_type",
    "target_iops",
    "target_storage_throughput",
    "target_allocated_storage",
    "upgrade_target_storage_config",
    "switchover_timeout",
    "db_cluster_parameter_group_name",
    "skip_proxy_retarget",
    "pause_before_proxy_deregister",
    "pause_before_cleanup",
    "old_cluster_retention_hours",
)


@dataclass(frozen=True)
class DbInstanceUpgradeFacts:
    """What the preflight learnt from DescribeDBEngineVersions and the parameter group."""

    major: bool
    # The DB parameter group to send with the upgrade (None: keep the instance's, or AWS's new default).
    parameter_group: str | None = None
    target_family: str | None = None
    expected_seconds: float = 1800.0
    # Read replicas of the instance: already on the target (MySQL, MariaDB) or upgraded with it (PostgreSQL).
    replicas: tuple[str, ...] = ()


def _minutes(seconds: float) -> str:
    return f"about {max(1, round(seconds / 60))} minutes"


def check_in_place_request(instance: InstanceSnapshot, params: EngineUpgradeParams) -> None:
    """Refusals that need nothing beyond the snapshot (the preflight runs them first, the plan again)."""
    given = [key for key in BLUE_GREEN_ONLY if key in params.model_fields_set]
    if given:
        raise BadInput(
            f"{', '.join(given)} apply to method blue_green only: an in-place upgrade changes DB instance "
            f"'{instance.id}' itself, with no green copy, switchover or old instance. Remove them, or leave method "
            "out to upgrade through Blue/Green"
        )
    if instance.engine_version == params.target_engine_version:
        raise BadInput(
            f"DB instance '{instance.id}' already runs {instance.engine} {instance.engine_version}; nothing to upgrade"
        )


def plan_db_instance_in_place_upgrade(
    instance: InstanceSnapshot, params: EngineUpgradeParams, operation_id: str, given: object
) -> Plan:
    facts = narrowed(given, DbInstanceUpgradeFacts)
    check_in_place_request(instance, params)
    target = params.target_engine_version
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
        description=f"Check that {instance.id} is available on {instance.engine} {instance.engine_version}, "
        "nothing pending",
    )
    down = _minutes(facts.expected_seconds)
    upgrade = builder.step(
        UPGRADE_DB_INSTANCE_IN_PLACE,
        DbInstanceUpgradeParams(
            instance_id=instance.id,
            engine_version=target,
            original_version=instance.engine_version,
            allow_major=facts.major,
            parameter_group=facts.parameter_group,
        ),
        name=f"upgrade_in_place:{instance.id}",
        description=f"Upgrade {instance.id} in place from {instance.engine_version} to {target}"
        + (" (major version)" if facts.major else "")
        + (f" with parameter group {facts.parameter_group}" if facts.parameter_group else "")
        + f": down for the whole upgrade ({down}, often longer"
        + (", primary and standby together)" if instance.multi_az else ")"),
    )
    builder.step(
        VERIFY_DB_INSTANCE,
        VerifyDbInstanceParams(
            instance_id=instance.id,
            engine_version=target,
            multi_az=instance.multi_az,
            parameter_group=facts.parameter_group,
        ),
        name="verify",
        description=f"Verify {instance.id}: available on {instance.engine} {target}, nothing pending",
    )
    notes = [
        f"in-place upgrade of {instance.id}: down for the whole upgrade ({down}, often longer)"
        + ("; Multi-AZ does not help: the standby upgrades at the same time" if instance.multi_az else ""),
        "once sent, the upgrade cannot be undone in place (no downgrade); take a snapshot first if you want a way "
        f"back (aws rds create-db-snapshot --db-instance-identifier {instance.id} --db-snapshot-identifier ...)",
    ]
    if facts.replicas and instance.engine == "postgres":
        notes.append(
            f"read replicas {', '.join(facts.replicas)}: RDS upgrades them with {instance.id}, so they are down too"
        )
    if facts.major and facts.parameter_group is None and instance.parameter_group:
        notes.append(
            f"major upgrade: {instance.id} uses the default parameter group {instance.parameter_group}; RDS gives it "
            f"the default group of {facts.target_family or 'the new family'}"
        )
    return Plan(
        steps=builder.steps,
        notes=notes,
        context={"instance_id": instance.id, "original_version": instance.engine_version},
        pause_before=[upgrade.name] if params.pause_before_switchover else [],
    )


def _upgrade_steps(operation: Operation) -> list[Step]:
    return [s for s in operation.steps if s.action == UPGRADE_DB_INSTANCE_IN_PLACE.action and s.state in TOUCHED]


def unwind_db_instance_in_place_upgrade(operation: Operation, kind: Literal["abort", "rollback"]) -> list[Step]:
    """Before the upgrade began, nothing to undo. After, nothing can be: a note says so."""
    limits = rollback_limits(operation)
    if limits is None:
        return []
    builder = StepBuilder(offset=len(operation.steps))
    builder.step(
        RECORD_NOTE,
        RecordNoteParams(type=f"{kind}_limits", message=limits),
        name="upgrade_not_undone",
        description=f"{kind.capitalize()}: an in-place upgrade cannot be undone (recorded as an event)",
    )
    return builder.steps


def rollback_limits(operation: Operation) -> str | None:
    """What a rollback of `operation` cannot undo, said before the answer is accepted (None: it undoes all)."""
    steps = _upgrade_steps(operation)
    if not steps:
        return None
    p = UPGRADE_DB_INSTANCE_IN_PLACE.parse_params(steps[0].parameters)
    sent = UPGRADE_DB_INSTANCE_IN_PLACE.parse_record(steps[0].result).requested_at is not None
    return (
        f"The in-place upgrade of {p.instance_id} from {p.original_version} to {p.engine_version} "
        + ("was sent" if sent else "may have been sent")
        + ": RDS cannot downgrade it. Going back means restoring a snapshot taken before the upgrade to a new "
        "instance (aws rds restore-db-instance-from-db-snapshot); rds-maint changes nothing on AWS"
    )
