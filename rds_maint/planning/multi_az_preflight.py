"""Read-only checks before a plan on a Multi-AZ DB cluster (bad input changes nothing).

A Multi-AZ DB cluster is changed as a whole, with one ModifyDBCluster ("You can't modify the DB
instances within a Multi-AZ DB cluster", RDS user guide): the options that pick instances or a temp
instance make no sense here and are refused with why. What AWS would refuse (a storage type it does
not offer, IOPS out of ratio, storage that shrinks or grows by less than 10 %, a class not offered for
Multi-AZ DB clusters, an upgrade target that is not one) is refused here, before anything is written.
Blue/Green deployments do not support Multi-AZ DB cluster deployments (RDS user guide, "Limitations for
blue/green deployments"): an engine upgrade runs in place (`method: in_place`) or not at all.
"""

from __future__ import annotations

import math
from datetime import datetime

from rds_maint.errors import BadInput
from rds_maint.model import (
    EngineUpgradeParams,
    InstanceCycleParams,
    InstanceTypeChangeParams,
    OperationParams,
    OperationType,
    StorageTypeChangeParams,
)
from rds_maint.parameters import is_pending_reboot
from rds_maint.plans.multi_az_cluster import MULTI_AZ_STORAGE_TYPES, MultiAzFacts
from rds_maint.ports import RdsPort
from rds_maint.snapshots import ClusterSnapshot

__all__ = ["preflight_multi_az_cluster"]

MIN_GROWTH_TENTHS = 11  # allocated storage grows by at least 10 % (FIELD_NOTES 5.3; assumed for the cluster), in tenths
IOPS_PER_GIB = (0.5, 50.0)  # ModifyDBCluster Iops: "a multiple between .5 and 50 of the storage amount"


def _what(cluster: ClusterSnapshot) -> str:
    return (
        f"cluster '{cluster.id}' is a Multi-AZ DB cluster ({cluster.engine} {cluster.engine_version}, "
        f"class {cluster.cluster_instance_class})"
    )


def _refuse_options(cluster: ClusterSnapshot, params: OperationParams) -> None:
    """Options of the Aurora and DB instance plans that have no meaning for a Multi-AZ DB cluster."""
    if getattr(params, "exclude_instances", None):
        raise BadInput(
            f"exclude_instances does not apply: {_what(cluster)}, whose members AWS changes together "
            "(ModifyDBCluster); leave it out"
            + (
                " (instance_cycle reboots members one at a time: every member, or only those pending a reboot "
                "with only_pending_reboot)"
                if isinstance(params, InstanceCycleParams)
                else ""
            )
        )
    if getattr(params, "skip_temp_instance", False):
        raise BadInput(
            f"skip_temp_instance does not apply: {_what(cluster)}; rds-maint creates no temp instance in it "
            "(AWS fails the writer over to a readable standby itself); leave it out"
        )
    if getattr(params, "allow_downtime", False):
        extra = (
            "; to reboot every member at once (downtime), ask for reboot_whole_cluster: true"
            if isinstance(params, InstanceCycleParams)
            else ""
        )
        raise BadInput(
            f"allow_downtime applies to Single-AZ DB instances: {_what(cluster)}, which keeps serving through "
            f"this change except for a failover to a standby; leave it out{extra}"
        )


def _storage(cluster: ClusterSnapshot, params: StorageTypeChangeParams) -> MultiAzFacts:
    wanted = params.target_storage_type
    if wanted not in MULTI_AZ_STORAGE_TYPES:
        raise BadInput(
            f"target_storage_type '{wanted}' is not a storage type of Multi-AZ DB clusters: use one of "
            f"{', '.join(MULTI_AZ_STORAGE_TYPES)} (ModifyDBCluster StorageType)"
        )
    if params.storage_throughput is not None:
        raise BadInput(
            "storage_throughput is not configurable for a Multi-AZ DB cluster: AWS sets its throughput from the "
            "IOPS you provision (DBCluster.StorageThroughput, RDS API reference); leave it out and set iops"
        )
    optimizing = [m.id for m in cluster.members if m.instance.status == "storage-optimization"]
    if optimizing:
        raise BadInput(
            f"cluster '{cluster.id}' is still optimizing its storage after the last change ({', '.join(optimizing)} "
            "read storage-optimization, which can last hours): AWS refuses another storage change until it ends. "
            f"Plan again once they read available (aws rds describe-db-instances --filters "
            f"Name=db-cluster-id,Values={cluster.id})"
        )
    current_size = cluster.allocated_storage or 0
    size = params.allocated_storage or current_size
    if params.allocated_storage is not None:
        least = -(-current_size * MIN_GROWTH_TENTHS // 10)  # integer ceiling: no float rounding
        if params.allocated_storage < current_size:
            raise BadInput(
                f"allocated_storage {params.allocated_storage} GiB is less than the cluster's {current_size} GiB: "
                "storage only grows"
            )
        if params.allocated_storage != current_size and params.allocated_storage < least:
            raise BadInput(
                f"allocated_storage {params.allocated_storage} GiB grows the cluster's {current_size} GiB by less "
                f"than 10 %: ask for at least {least} GiB, or leave it out"
            )
    iops = params.iops or cluster.iops
    if iops is None:
        raise BadInput(
            f"iops is required: AWS needs Iops with a Multi-AZ DB cluster's StorageType and cluster '{cluster.id}' "
            "shows none; pass iops"
        )
    low, high = IOPS_PER_GIB
    if size and not low <= iops / size <= high:
        raise BadInput(
            f"iops {iops} is out of range for {size} GiB: a Multi-AZ DB cluster takes {math.ceil(size * low)} to "
            f"{int(size * high)} IOPS ({low} to {high:g} per GiB); change iops or allocated_storage"
        )
    if (wanted, iops, size) == (cluster.storage_type, cluster.iops, current_size):
        raise BadInput(
            f"nothing to change: cluster '{cluster.id}' already has {wanted}, {iops} IOPS and {size} GiB "
            f"(aws rds describe-db-clusters --db-cluster-identifier {cluster.id})"
        )
    return MultiAzFacts(iops=iops, allocated_storage=size)


def _instance_class(rds: RdsPort, cluster: ClusterSnapshot, params: InstanceTypeChangeParams) -> MultiAzFacts:
    target = params.target_instance_type
    if target == cluster.cluster_instance_class:
        raise BadInput(f"nothing to change: cluster '{cluster.id}' already has class {target}")
    rows = rds.orderable_options(cluster.engine, cluster.engine_version, target)
    if not any(row.get("SupportsClusters") for row in rows):
        raise BadInput(
            f"target_instance_type {target} is not offered for Multi-AZ DB clusters of {cluster.engine} "
            f"{cluster.engine_version} in this region. The classes that are: aws rds "
            f"describe-orderable-db-instance-options --engine {cluster.engine} --engine-version "
            f'{cluster.engine_version} --query "OrderableDBInstanceOptions[?SupportsClusters].DBInstanceClass"'
        )
    return MultiAzFacts()


def _engine_upgrade(rds: RdsPort, cluster: ClusterSnapshot, params: EngineUpgradeParams) -> MultiAzFacts:
    if params.method != "in_place":
        raise BadInput(
            f"{_what(cluster)}: Blue/Green deployments do not support Multi-AZ DB clusters (RDS user guide, "
            "'Limitations for blue/green deployments'). Ask for method: in_place: one ModifyDBCluster "
            "EngineVersion, the readers upgraded first, then a failover to one of them (a short interruption; a "
            "major upgrade: downtime while the members upgrade)"
        )
    given = [
        key
        for key in (
            "db_cluster_parameter_group_name",
            "db_instance_parameter_group_name",
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
            f"{', '.join(given)} do not apply to an in-place upgrade of Multi-AZ DB cluster '{cluster.id}' in "
            "rds-maint; leave them out (change the class or storage with instance_type_change or "
            "storage_type_change)"
        )
    target = params.target_engine_version
    if target == cluster.engine_version:
        raise BadInput(f"nothing to change: cluster '{cluster.id}' already runs {cluster.engine} {target}")
    current = rds.engine_version(cluster.engine, cluster.engine_version)
    if current is None:
        raise BadInput(
            f"{cluster.engine} {cluster.engine_version} is unknown to this region's DescribeDBEngineVersions: "
            "rds-maint cannot check the upgrade target"
        )
    targets = {str(t.get("EngineVersion")): t for t in current.get("ValidUpgradeTarget") or []}
    if target not in targets:
        valid = ", ".join(sorted(targets)) or "none"
        raise BadInput(
            f"target_engine_version {target} is not an upgrade target of {cluster.engine} "
            f"{cluster.engine_version}: valid targets are {valid} (aws rds describe-db-engine-versions --engine "
            f"{cluster.engine} --engine-version {cluster.engine_version} --query "
            '"DBEngineVersions[].ValidUpgradeTarget[].EngineVersion")'
        )
    major = bool(targets[target].get("IsMajorVersionUpgrade"))
    if major and cluster.engine != "postgres":
        raise BadInput(
            f"a major version upgrade of a Multi-AZ DB cluster is supported for RDS for PostgreSQL only "
            f"(RDS user guide); {cluster.engine} {cluster.engine_version} -> {target} is not"
        )
    return MultiAzFacts(major_upgrade=major)


def _instance_cycle(cluster: ClusterSnapshot, params: InstanceCycleParams) -> MultiAzFacts:
    if params.only_pending_reboot and not any(is_pending_reboot(m) for m in cluster.members):
        raise BadInput(
            f"only_pending_reboot: no member of cluster '{cluster.id}' has parameter changes pending a reboot; "
            "nothing to reboot"
        )
    return MultiAzFacts()


def preflight_multi_az_cluster(
    op_type: OperationType, rds: RdsPort, cluster: ClusterSnapshot, params: OperationParams, now: datetime
) -> object:
    if cluster.status != "available":
        raise BadInput(
            f"cluster '{cluster.id}' is {cluster.status}: plan once it is available "
            f"(aws rds describe-db-clusters --db-cluster-identifier {cluster.id})"
        )
    _refuse_options(cluster, params)
    if isinstance(params, StorageTypeChangeParams):
        return _storage(cluster, params)
    if isinstance(params, InstanceTypeChangeParams):
        return _instance_class(rds, cluster, params)
    if isinstance(params, EngineUpgradeParams):
        return _engine_upgrade(rds, cluster, params)
    if isinstance(params, InstanceCycleParams):
        return _instance_cycle(cluster, params)
    raise BadInput(f"{op_type.value} is not available for a Multi-AZ DB cluster")
