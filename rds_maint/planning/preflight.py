"""Read-only checks against the live cluster before a plan is made (bad input changes nothing).

Plans are pure; what they need to know from AWS beyond the cluster snapshot (is a class
orderable, which versions are valid targets, which proxies exist) is gathered here, per
operation type, and handed to the plan as `facts`: a typed model per operation type, defined beside
the plan that reads it (`InstanceCycleFacts`, `StorageTypeChangeFacts`), or None when the plan needs
nothing more than the snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rds_maint.aurora_storage import IO_OPTIMIZED, as_utc, check_storage_request, io_optimized_refusal
from rds_maint.errors import BadInput
from rds_maint.model import (
    EngineUpgradeParams,
    InstanceCycleParams,
    InstanceTypeChangeParams,
    OperationParams,
    OperationType,
    StorageTypeChangeParams,
)
from rds_maint.names import TEMP_MARKER
from rds_maint.planning.db_instance_preflight import preflight_db_instance
from rds_maint.planning.db_instance_storage_preflight import preflight_db_instance_storage
from rds_maint.planning.db_instance_upgrade_preflight import preflight_db_instance_blue_green
from rds_maint.planning.multi_az_preflight import preflight_multi_az_cluster
from rds_maint.planning.upgrade_preflight import preflight_engine_upgrade
from rds_maint.plans.instance_cycle import InstanceCycleFacts
from rds_maint.plans.storage_type_change import StorageTypeChangeFacts
from rds_maint.ports import RdsPort
from rds_maint.snapshots import ClusterSnapshot, InstanceSnapshot, Target

__all__ = ["CLOCK_CHECKS", "PREFLIGHTS", "ClockCheck", "Preflight", "preflight"]

# What a check answers: the facts its plan reads (a model of that type's own), or None.
Preflight = Callable[[RdsPort, ClusterSnapshot, Any], object]
# A check on the clock (checks above get none; `preflight` gives the engine's): refuses with BadInput.
ClockCheck = Callable[[ClusterSnapshot, Any, datetime], None]


def _instance_type_change(rds: RdsPort, cluster: ClusterSnapshot, params: InstanceTypeChangeParams) -> None:
    target = params.target_instance_type
    if not rds.is_orderable(cluster.engine, cluster.engine_version, target):
        raise BadInput(
            f"target_instance_type {target} is not orderable for {cluster.engine} {cluster.engine_version} "
            "in this region"
        )


def _storage_type_change(
    rds: RdsPort, cluster: ClusterSnapshot, params: StorageTypeChangeParams
) -> StorageTypeChangeFacts:
    request = check_storage_request(cluster, params)
    return StorageTypeChangeFacts(current_storage_type=request.current)


def _io_optimized_not_yet(cluster: ClusterSnapshot, params: StorageTypeChangeParams, now: datetime) -> None:
    """AWS allows one switch to I/O-Optimized every 30 days: refused until IOOptimizedNextAllowedModificationTime."""
    next_allowed = cluster.io_optimized_next_allowed
    if params.target_storage_type == IO_OPTIMIZED and next_allowed is not None and now < as_utc(next_allowed):
        raise BadInput(io_optimized_refusal(cluster.id, next_allowed))


def _instance_cycle(rds: RdsPort, cluster: ClusterSnapshot, params: InstanceCycleParams) -> InstanceCycleFacts:
    """Whether a temp instance in the writer's class can still be created (old classes stop being sold)."""
    writer = cluster.writer
    if writer is None or params.skip_temp_instance:
        return InstanceCycleFacts()
    return InstanceCycleFacts(
        writer_class_orderable=rds.is_orderable(cluster.engine, cluster.engine_version, writer.instance.instance_class)
    )


PREFLIGHTS: dict[OperationType, Preflight] = {
    OperationType.INSTANCE_TYPE_CHANGE: _instance_type_change,
    OperationType.STORAGE_TYPE_CHANGE: _storage_type_change,
    OperationType.INSTANCE_CYCLE: _instance_cycle,
    OperationType.ENGINE_UPGRADE: preflight_engine_upgrade,
}
CLOCK_CHECKS: dict[OperationType, ClockCheck] = {
    OperationType.STORAGE_TYPE_CHANGE: _io_optimized_not_yet,
}


def _refuse_cluster_kinds_not_handled(op_type: OperationType, cluster: ClusterSnapshot) -> None:
    """Kinds of cluster the operations would fail on half-way: refused before anything is written."""
    if op_type is OperationType.ENGINE_UPGRADE and cluster.global_cluster_id:
        raise BadInput(
            f"cluster '{cluster.id}' is a member of the Aurora Global Database '{cluster.global_cluster_id}': "
            "rds-maint does not handle an engine upgrade of a global database (the global members in the other "
            "regions are part of a Blue/Green deployment too, and RDS Proxy is not supported with Global "
            "Database). Upgrade the whole global database instead, e.g. `aws rds modify-global-cluster "
            f"--global-cluster-identifier {cluster.global_cluster_id} --engine-version <version> "
            "--allow-major-version-upgrade`, or detach this cluster first (`aws rds remove-from-global-cluster "
            f"--global-cluster-identifier {cluster.global_cluster_id} --db-cluster-identifier <cluster ARN>`) "
            "and upgrade it on its own"
        )


def _refuse_another_operations_temp_instance(cluster: ClusterSnapshot) -> None:
    """A temp instance in the cluster belongs to another operation (a new plan has none yet): that one is
    under way, or it ended without its clean-up. Two operations would fail over onto each other's
    instances, and the plan would count the other's instance as a reader to change."""
    for member in cluster.members:
        instance = member.instance
        owner = instance.operation_tag
        if owner is None and f"-{TEMP_MARKER}-" not in instance.id:
            continue
        whose = (
            f"a temporary instance of operation '{owner}' (its tag rds-maint:operation-id)"
            if owner
            else f"named like an rds-maint temporary instance (-{TEMP_MARKER}-), with no operation tag"
        )
        status = f"rds-maint status {owner}" if owner else "rds-maint list"
        raise BadInput(
            f"cluster '{cluster.id}' holds instance '{instance.id}', {whose}: another operation is under way on "
            f"the cluster or ended without its clean-up. Let it finish, or roll it back ({status}); if it is gone "
            f"and '{instance.id}' is a leftover, make sure it is not the writer, delete it (aws rds "
            f"delete-db-instance --db-instance-identifier {instance.id} --skip-final-snapshot) and plan again"
        )


def preflight(
    op_type: OperationType,
    rds: RdsPort,
    target: Target,
    params: OperationParams,
    now: datetime | None = None,
) -> object:
    """The facts `build_plan` takes for `op_type` on this kind of target (see `Preflight`); raises BadInput
    for a request AWS would refuse."""
    at = now or datetime.now(UTC)
    if isinstance(target, InstanceSnapshot):
        if isinstance(params, EngineUpgradeParams) and params.method == "blue_green":
            return preflight_db_instance_blue_green(rds, target, params, at)
        if isinstance(params, StorageTypeChangeParams):
            return preflight_db_instance_storage(rds, target, params, at)
        return preflight_db_instance(op_type, rds, target, params, at)
    if target.is_multi_az_db_cluster:
        return preflight_multi_az_cluster(op_type, rds, target, params, at)
    return _preflight_aurora(op_type, rds, target, params, at)


def _preflight_aurora(
    op_type: OperationType, rds: RdsPort, cluster: ClusterSnapshot, params: OperationParams, now: datetime
) -> object:
    if isinstance(params, EngineUpgradeParams):
        _refuse_db_instance_only_upgrade_params(cluster, params)
    if isinstance(params, StorageTypeChangeParams) and params.allocated_storage is not None:
        raise BadInput(
            f"allocated_storage applies to DB instances and Multi-AZ DB clusters only: Aurora cluster '{cluster.id}' "
            "grows its storage by itself"
        )
    if isinstance(params, InstanceCycleParams) and params.reboot_whole_cluster:
        raise BadInput(
            "reboot_whole_cluster applies to Multi-AZ DB clusters only (RebootDBCluster): an Aurora cluster's "
            "instances are rebooted one at a time"
        )
    _refuse_cluster_kinds_not_handled(op_type, cluster)
    _refuse_another_operations_temp_instance(cluster)
    check = PREFLIGHTS.get(op_type)
    facts = check(rds, cluster, params) if check else None
    clock_check = CLOCK_CHECKS.get(op_type)
    if clock_check is not None:
        clock_check(cluster, params, now)
    return facts


def _refuse_db_instance_only_upgrade_params(cluster: ClusterSnapshot, params: EngineUpgradeParams) -> None:
    """Blue/Green's Target* shape and an in-place upgrade are for DB instances; Aurora sizes per instance."""
    if params.method == "in_place":
        raise BadInput(
            f"method in_place applies to DB instances only: rds-maint upgrades Aurora cluster '{cluster.id}' through "
            "Blue/Green (leave method out)"
        )
    given = [
        key
        for key in (
            "target_db_instance_class",
            "target_storage_type",
            "target_iops",
            "target_storage_throughput",
            "target_allocated_storage",
            "upgrade_target_storage_config",
        )
        if getattr(params, key) is not None
    ]
    if given:
        raise BadInput(
            f"{', '.join(given)} apply to DB instances only (CreateBlueGreenDeployment Target* settings): the green "
            f"instances of Aurora cluster '{cluster.id}' copy their blue counterparts; change classes after the "
            "upgrade with instance_type_change"
        )
