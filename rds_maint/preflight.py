"""Read-only checks against the live cluster before a plan is made (bad input changes nothing).

Plans are pure; what they need to know from AWS beyond the cluster snapshot (is a class
orderable, which versions are valid targets, which proxies exist) is gathered here, per
operation type, and handed to the plan as `facts`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rds_maint.aurora_storage import IO_OPTIMIZED, as_utc, check_storage_request, io_optimized_refusal
from rds_maint.errors import BadInput
from rds_maint.model import (
    InstanceCycleParams,
    InstanceTypeChangeParams,
    OperationParams,
    OperationType,
    StorageTypeChangeParams,
)
from rds_maint.rds import RdsGateway
from rds_maint.snapshots import ClusterSnapshot
from rds_maint.upgrade_preflight import preflight_engine_upgrade

Facts = dict[str, Any]
# engine_upgrade answers typed facts (EngineUpgradeFacts); the others a dict, until they are typed too.
Preflight = Callable[[RdsGateway, ClusterSnapshot, Any], object]

# A check may answer facts[NOT_BEFORE] = (time, refusal): the request is bad input until that time
# (checks get no clock; `preflight` compares with the engine's).
NOT_BEFORE = "not_before"


def _instance_type_change(rds: RdsGateway, cluster: ClusterSnapshot, params: InstanceTypeChangeParams) -> Facts:
    target = params.target_instance_type
    if not rds.is_orderable(cluster.engine, cluster.engine_version, target):
        raise BadInput(
            f"target_instance_type {target} is not orderable for {cluster.engine} {cluster.engine_version} "
            "in this region"
        )
    return {}


def _storage_type_change(rds: RdsGateway, cluster: ClusterSnapshot, params: StorageTypeChangeParams) -> Facts:
    request = check_storage_request(cluster, params)
    facts: Facts = {"current_storage_type": request.current}
    if request.target == IO_OPTIMIZED and request.next_allowed is not None:
        facts[NOT_BEFORE] = (as_utc(request.next_allowed), io_optimized_refusal(cluster.id, request.next_allowed))
    return facts


def _instance_cycle(rds: RdsGateway, cluster: ClusterSnapshot, params: InstanceCycleParams) -> Facts:
    """Whether a temp instance in the writer's class can still be created (old classes stop being sold)."""
    writer = cluster.writer
    if writer is None or params.skip_temp_instance:
        return {}
    return {
        "writer_class_orderable": rds.is_orderable(
            cluster.engine, cluster.engine_version, writer.instance.instance_class
        )
    }


PREFLIGHTS: dict[OperationType, Preflight] = {
    OperationType.INSTANCE_TYPE_CHANGE: _instance_type_change,
    OperationType.STORAGE_TYPE_CHANGE: _storage_type_change,
    OperationType.INSTANCE_CYCLE: _instance_cycle,
    OperationType.ENGINE_UPGRADE: preflight_engine_upgrade,
}


def _refuse_cluster_kinds_not_handled(op_type: OperationType, cluster: ClusterSnapshot) -> None:
    """Kinds of cluster the operations would fail on half-way: refused before anything is written."""
    if cluster.is_multi_az_db_cluster:
        raise BadInput(
            f"cluster '{cluster.id}' is a Multi-AZ DB cluster ({cluster.engine}, class "
            f"{cluster.cluster_instance_class}), not an Aurora cluster: rds-maint does not support Multi-AZ DB "
            f"clusters yet (its {op_type.value} works instance by instance, and AWS does not let the instances of "
            "a Multi-AZ DB cluster be changed one by one). Change the cluster itself instead, e.g. "
            f"`aws rds modify-db-cluster --db-cluster-identifier {cluster.id} --db-cluster-instance-class "
            "<class> --apply-immediately` (or --storage-type/--iops/--allocated-storage, or --engine-version), "
            f"or `aws rds reboot-db-cluster --db-cluster-identifier {cluster.id}`"
        )
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


def preflight(
    op_type: OperationType,
    rds: RdsGateway,
    cluster: ClusterSnapshot,
    params: OperationParams,
    now: datetime | None = None,
) -> object:
    _refuse_cluster_kinds_not_handled(op_type, cluster)
    check = PREFLIGHTS.get(op_type)
    facts = check(rds, cluster, params) if check else {}
    if not isinstance(facts, dict):
        return facts  # typed facts carry no not-before time
    not_before = facts.pop(NOT_BEFORE, None)
    if not_before is not None:
        when, refusal = not_before
        if (now or datetime.now(UTC)) < when:
            raise BadInput(refusal)
    return facts
