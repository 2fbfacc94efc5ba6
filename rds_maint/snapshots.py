"""Typed snapshots of AWS state, and the tags and names they are read by: plain data, no SDK.

Plans, preflight and the engine decide from these types alone, so they load and run without boto3
or botocore (an import-linter contract in pyproject.toml holds it; tests/units/test_import_weight.py checks
a fresh interpreter). `rds_maint.rds`, the gateway, is the only code that builds them from AWS answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rds_maint.model import TargetKind

__all__ = [
    "SERVERLESS_CLASS",
    "TAG_AUTOSCALING",
    "TAG_OPERATION_ID",
    "ClusterRoles",
    "ClusterSnapshot",
    "InstanceSnapshot",
    "MemberSnapshot",
    "Target",
    "TargetKind",
    "instance_settings",
    "target_kind",
]

TAG_OPERATION_ID = "rds-maint:operation-id"
TAG_AUTOSCALING = "application-autoscaling:resourceId"
SERVERLESS_CLASS = "db.serverless"


@dataclass(frozen=True)
class InstanceSnapshot:
    id: str
    cluster_id: str | None
    instance_class: str
    status: str
    engine: str
    engine_version: str
    availability_zone: str | None
    promotion_tier: int
    parameter_group: str | None
    parameter_apply_status: str | None
    pending_class: str | None
    tags: dict[str, str]
    # Settings AWS keeps per instance and never copies from the cluster or another instance
    # (CreateDBInstance: omitted means AWS's default, e.g. PubliclyAccessible false for Aurora).
    publicly_accessible: bool | None = None
    ca_certificate: str | None = None
    monitoring_interval: int = 0
    monitoring_role_arn: str | None = None
    performance_insights_enabled: bool = False
    performance_insights_kms_key: str | None = None
    performance_insights_retention: int | None = None
    # What a DB instance outside any cluster is judged by (DescribeDBInstances; members carry them too).
    arn: str | None = None
    multi_az: bool = False
    secondary_availability_zone: str | None = None
    endpoint: str | None = None  # Endpoint.Address: what clients connect to (it stays across a failover)
    storage_type: str | None = None
    allocated_storage: int | None = None  # GiB
    iops: int | None = None
    storage_throughput: int | None = None  # MiB/s (gp3)
    max_allocated_storage: int | None = None  # storage autoscaling's ceiling (GiB), None when off
    # PendingModifiedValues as AWS answered it (e.g. {"DBInstanceClass": ..., "StorageType": ..., "Iops": ...})
    pending: dict[str, Any] = field(default_factory=dict)
    read_replica_ids: tuple[str, ...] = ()
    replica_source_id: str | None = None  # ReadReplicaSourceDBInstanceIdentifier: this instance is a replica
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_standalone(self) -> bool:
        """An RDS DB instance of its own (Single-AZ or Multi-AZ), not a member of an Aurora or Multi-AZ DB cluster."""
        return self.cluster_id is None

    @property
    def is_autoscaled(self) -> bool:
        return TAG_AUTOSCALING in self.tags

    @property
    def is_serverless(self) -> bool:
        return self.instance_class == SERVERLESS_CLASS

    @property
    def operation_tag(self) -> str | None:
        return self.tags.get(TAG_OPERATION_ID)


@dataclass(frozen=True)
class MemberSnapshot:
    instance: InstanceSnapshot
    is_writer: bool
    promotion_tier: int
    cluster_parameter_group_status: str | None

    @property
    def id(self) -> str:
        return self.instance.id


@dataclass(frozen=True)
class ClusterSnapshot:
    id: str
    status: str
    engine: str
    engine_version: str
    storage_type: str | None
    parameter_group: str | None
    members: tuple[MemberSnapshot, ...]
    tags: dict[str, str]
    io_optimized_next_allowed: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # A storage type change AWS accepted and has not finished (PendingModifiedValues.StorageType).
    pending_storage_type: str | None = None
    # DBCluster.GlobalClusterIdentifier: set on every member of an Aurora Global Database.
    global_cluster_id: str | None = None
    # DBCluster.DBClusterInstanceClass: set only on Multi-AZ DB clusters (RDS MySQL/PostgreSQL, not Aurora).
    cluster_instance_class: str | None = None
    # DBCluster.Endpoint / ReaderEndpoint: the DNS names applications connect to (writer, readers).
    endpoint: str | None = None
    reader_endpoint: str | None = None
    # Multi-AZ DB clusters only: the storage the cluster provisions for every member (DescribeDBClusters),
    # and PendingModifiedValues as AWS answered it.
    allocated_storage: int | None = None
    iops: int | None = None
    storage_throughput: int | None = None
    pending: dict[str, Any] = field(default_factory=dict)

    @property
    def arn(self) -> str | None:
        return str(self.raw.get("DBClusterArn") or "") or None

    @property
    def is_multi_az_db_cluster(self) -> bool:
        """A Multi-AZ DB cluster: its instances are sized and stored by the cluster, not one by one."""
        return bool(self.cluster_instance_class) and not self.engine.startswith("aurora")

    @property
    def writer(self) -> MemberSnapshot | None:
        return next((m for m in self.members if m.is_writer), None)

    @property
    def writer_id(self) -> str | None:
        writer = self.writer
        return writer.id if writer else None

    def member(self, instance_id: str) -> MemberSnapshot | None:
        return next((m for m in self.members if m.id == instance_id), None)

    @property
    def availability_zones(self) -> list[str]:
        return list(self.raw.get("AvailabilityZones") or [])


# A described target: the plan, the preflight and the estimate are chosen by its kind (`target_kind`).
Target = ClusterSnapshot | InstanceSnapshot


def target_kind(target: Target) -> TargetKind:
    if isinstance(target, InstanceSnapshot):
        return "db_instance"
    return "multi_az_cluster" if target.is_multi_az_db_cluster else "aurora_cluster"


@dataclass(frozen=True)
class ClusterRoles:
    id: str
    status: str
    writer_id: str | None
    member_ids: tuple[str, ...]
    engine: str = ""


def instance_settings(instance: InstanceSnapshot) -> dict[str, Any]:
    """The CreateDBInstance parameters that give a new cluster instance `instance`'s network and monitoring.

    PubliclyAccessible, the CA certificate, Enhanced Monitoring and Performance Insights are per
    instance in Aurora: omitted, AWS applies its defaults (private, the region's default CA, no
    monitoring), so clients that reach `instance` might not reach the new one.
    """
    settings: dict[str, Any] = {}
    if instance.publicly_accessible is not None:
        settings["PubliclyAccessible"] = instance.publicly_accessible
    if instance.ca_certificate:
        settings["CACertificateIdentifier"] = instance.ca_certificate
    if instance.monitoring_interval and instance.monitoring_role_arn:
        settings["MonitoringInterval"] = instance.monitoring_interval
        settings["MonitoringRoleArn"] = instance.monitoring_role_arn
    if instance.performance_insights_enabled:
        settings["EnablePerformanceInsights"] = True
        if instance.performance_insights_kms_key:
            settings["PerformanceInsightsKMSKeyId"] = instance.performance_insights_kms_key
        if instance.performance_insights_retention:
            settings["PerformanceInsightsRetentionPeriod"] = int(instance.performance_insights_retention)
    return settings
