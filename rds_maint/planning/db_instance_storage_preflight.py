"""Read-only checks before a storage_type_change of an RDS DB instance: everything AWS would refuse, refused
before anything is written (the rules: `rds_maint.instance_storage`).

Reads the instance's events (DescribeEvents, 14 days) for the 6-hour rule and, when AWS answers it,
DescribeOrderableDBInstanceOptions for the class's storage limits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rds_maint.errors import BadInput
from rds_maint.instance_storage import (
    OPTIMIZING,
    as_utc,
    last_storage_change,
    next_storage_change_allowed,
    orderable_refusal,
    pending_storage,
    resolve_storage,
    storage_of,
)
from rds_maint.model import StorageTypeChangeParams
from rds_maint.plans.db_instance_storage import DbInstanceStorageFacts
from rds_maint.ports import RdsPort
from rds_maint.snapshots import InstanceSnapshot

__all__ = ["EVENT_DAYS", "preflight_db_instance_storage"]

EVENT_DAYS = 14  # what DescribeEvents keeps (FIELD_NOTES 5.2)


def _refuse_cluster_params(instance: InstanceSnapshot, params: StorageTypeChangeParams) -> None:
    given = [
        name
        for name, value in (
            ("exclude_instances", params.exclude_instances),
            ("skip_temp_instance", params.skip_temp_instance),
        )
        if value
    ]
    if given:
        raise BadInput(
            f"{' and '.join(given)} make no sense for DB instance '{instance.id}': they choose the members of an "
            "Aurora cluster a follow-up instance cycle restarts, and a DB instance changes its storage alone, online, "
            "with no temp instance; leave them out"
        )


def _when(value: datetime) -> str:
    return f"{as_utc(value):%Y-%m-%d %H:%M} UTC"


def _check_cooldown(rds: RdsPort, instance: InstanceSnapshot, now: datetime) -> datetime | None:
    """The 6-hour rule and storage-optimization: refused with the time the next change is allowed."""
    last = last_storage_change(rds.instance_events(instance.id, now - timedelta(days=EVENT_DAYS)))
    allowed = next_storage_change_allowed(last)
    query = "--query 'DBInstances[0].DBInstanceStatus'"
    check = f"aws rds describe-db-instances --db-instance-identifier {instance.id} {query}"
    if instance.status == OPTIMIZING:
        earliest = max(as_utc(now), allowed) if allowed else None
        when = (
            f" from {_when(earliest)} at the earliest (6 hours after the last change at {_when(last)}), and"
            if earliest and last
            else ""
        )
        raise BadInput(
            f"DB instance '{instance.id}' is in storage-optimization after an earlier storage change: AWS allows the "
            f"next storage change{when} only once optimization has ended (it can take hours, up to days); check with "
            f"`{check}` and plan again when it reads available"
        )
    if allowed is not None and as_utc(now) < allowed and last is not None:
        raise BadInput(
            f"DB instance '{instance.id}' had a storage change at {_when(last)}: AWS allows the next one only 6 hours "
            f"later, from {_when(allowed)} (and once storage-optimization has ended); plan again then"
        )
    return last


def preflight_db_instance_storage(
    rds: RdsPort, instance: InstanceSnapshot, params: StorageTypeChangeParams, now: datetime
) -> DbInstanceStorageFacts:
    _refuse_cluster_params(instance, params)
    pending = pending_storage(instance.pending)
    if pending is not None:
        raise BadInput(
            f"DB instance '{instance.id}' already has a storage change pending ({pending.text()}); let it finish "
            f"(aws rds describe-db-instances --db-instance-identifier {instance.id}) and plan again"
        )
    request = resolve_storage(
        instance.engine,
        storage_of(instance),
        storage_type=params.target_storage_type,
        iops=params.iops,
        storage_throughput=params.storage_throughput,
        allocated_storage=params.allocated_storage,
    )
    last = _check_cooldown(rds, instance, now)
    refusal = orderable_refusal(
        rds.orderable_options(instance.engine, instance.engine_version, instance.instance_class),
        request.target,
        instance.engine,
        instance.engine_version,
        instance.instance_class,
    )
    if refusal is not None:
        raise BadInput(f"DB instance '{instance.id}': {refusal}")
    return DbInstanceStorageFacts(request=request, last_storage_change=last)
