"""RDS API shapes to and from the typed snapshots of `rds_maint.snapshots`, and paging.

Pure functions over the dicts boto3 returns (no SDK import), so that the shape of an answer can be
read and tested apart from the calls that fetch it (`rds_maint.rds`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rds_maint.aurora_storage import storage_type_of
from rds_maint.snapshots import ClusterRoles, ClusterSnapshot, InstanceSnapshot, MemberSnapshot

__all__ = ["all_pages", "cluster_from_api", "instance_from_api", "roles_from_api", "tag_list", "tags_of"]


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """A dict of tags in the shape every RDS create/tag call takes."""
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tags_of(items: list[Any] | None) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in items or []}


def instance_from_api(data: Any) -> InstanceSnapshot:
    groups = data.get("DBParameterGroups") or []
    pending = data.get("PendingModifiedValues") or {}
    return InstanceSnapshot(
        id=data["DBInstanceIdentifier"],
        cluster_id=data.get("DBClusterIdentifier"),
        instance_class=data["DBInstanceClass"],
        status=data.get("DBInstanceStatus", "unknown"),
        engine=data.get("Engine", ""),
        engine_version=data.get("EngineVersion", ""),
        availability_zone=data.get("AvailabilityZone"),
        promotion_tier=int(data.get("PromotionTier", 1)),
        parameter_group=groups[0].get("DBParameterGroupName") if groups else None,
        parameter_apply_status=groups[0].get("ParameterApplyStatus") if groups else None,
        pending_class=pending.get("DBInstanceClass"),
        tags=tags_of(data.get("TagList")),
        publicly_accessible=data.get("PubliclyAccessible"),
        ca_certificate=data.get("CACertificateIdentifier"),
        monitoring_interval=int(data.get("MonitoringInterval") or 0),
        monitoring_role_arn=data.get("MonitoringRoleArn"),
        performance_insights_enabled=bool(data.get("PerformanceInsightsEnabled")),
        performance_insights_kms_key=data.get("PerformanceInsightsKMSKeyId"),
        performance_insights_retention=data.get("PerformanceInsightsRetentionPeriod"),
        arn=data.get("DBInstanceArn"),
        multi_az=bool(data.get("MultiAZ")),
        secondary_availability_zone=data.get("SecondaryAvailabilityZone") or None,
        endpoint=(data.get("Endpoint") or {}).get("Address"),
        storage_type=data.get("StorageType"),
        allocated_storage=_int(data.get("AllocatedStorage")),
        iops=_int(data.get("Iops")),
        storage_throughput=_int(data.get("StorageThroughput")),
        max_allocated_storage=_int(data.get("MaxAllocatedStorage")),
        pending=dict(pending),
        read_replica_ids=tuple(data.get("ReadReplicaDBInstanceIdentifiers") or ()),
        replica_source_id=data.get("ReadReplicaSourceDBInstanceIdentifier") or None,
        created_at=data.get("InstanceCreateTime"),
        raw=dict(data),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def cluster_from_api(data: Any, instances: list[Any]) -> ClusterSnapshot:
    """One DBClusters row and the DBInstances rows of its members; a member not among them is left out."""
    by_id = {i["DBInstanceIdentifier"]: instance_from_api(i) for i in instances}
    members = []
    for m in data.get("DBClusterMembers") or []:
        instance = by_id.get(m["DBInstanceIdentifier"])
        if instance is None:
            continue
        members.append(
            MemberSnapshot(
                instance=instance,
                is_writer=bool(m.get("IsClusterWriter")),
                promotion_tier=int(m.get("PromotionTier", instance.promotion_tier)),
                cluster_parameter_group_status=m.get("DBClusterParameterGroupStatus"),
            )
        )
    return ClusterSnapshot(
        id=data["DBClusterIdentifier"],
        status=data.get("Status", "unknown"),
        engine=data.get("Engine", ""),
        engine_version=data.get("EngineVersion", ""),
        storage_type=storage_type_of(data.get("Engine", ""), data.get("StorageType")),
        parameter_group=data.get("DBClusterParameterGroup"),
        members=tuple(members),
        tags=tags_of(data.get("TagList")),
        io_optimized_next_allowed=data.get("IOOptimizedNextAllowedModificationTime"),
        raw=dict(data),
        pending_storage_type=(data.get("PendingModifiedValues") or {}).get("StorageType"),
        global_cluster_id=data.get("GlobalClusterIdentifier") or None,
        cluster_instance_class=data.get("DBClusterInstanceClass") or None,
        endpoint=data.get("Endpoint") or None,
        reader_endpoint=data.get("ReaderEndpoint") or None,
        allocated_storage=_int(data.get("AllocatedStorage")),
        iops=_int(data.get("Iops")),
        storage_throughput=_int(data.get("StorageThroughput")),
        pending=dict(data.get("PendingModifiedValues") or {}),
    )


def roles_from_api(data: Any) -> ClusterRoles:
    members = data.get("DBClusterMembers") or []
    writer = next((m["DBInstanceIdentifier"] for m in members if m.get("IsClusterWriter")), None)
    return ClusterRoles(
        id=data["DBClusterIdentifier"],
        status=data.get("Status", "unknown"),
        writer_id=writer,
        member_ids=tuple(m["DBInstanceIdentifier"] for m in members),
        engine=data.get("Engine", ""),
    )


def all_pages(fetch: Callable[[dict[str, Any]], Any], key: str) -> list[dict[str, Any]]:
    """Follow AWS's `Marker` until the last page."""
    rows: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    while True:
        page = fetch(extra)
        rows += [dict(row) for row in page.get(key) or []]
        marker = page.get("Marker")
        if not marker:
            return rows
        extra = {"Marker": marker}
