"""Ports: what the engine, the planner and the actions need from AWS, as protocols.

Nothing here loads boto3 or botocore: the real `rds_maint.rds.RdsGateway` implements `RdsPort`, and
so can an in-memory fake in unit tests. Every method raises only the classes of `rds_maint.errors`:
`TransientAwsError` (throttling, 5xx, lost connection, after the gateway's own retries),
`BusyAwsError` (the resource refuses for now), `PersonAwsError` (credentials, parameters, a resource
missing: a person must act) and `AwsError` for anything else AWS answered. `find_*` methods answer
None for a resource that does not exist instead of raising.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any, Literal, Protocol

from rds_maint.snapshots import ClusterRoles, ClusterSnapshot, InstanceSnapshot

ParameterGroupKind = Literal["cluster", "instance"]


class RdsPort(Protocol):
    """RDS in one region, typed and with errors classed (see the module docstring for what it raises)."""

    calls: Counter[str]

    def check_credentials(self) -> None:
        """Fail now, with the fix in the message, when the client has no usable credentials."""
        ...

    def describe_cluster(self, cluster_id: str) -> ClusterSnapshot:
        """One DescribeDBClusters plus one DescribeDBInstances filtered by cluster."""
        ...

    def cluster_roles(self, cluster_id: str) -> ClusterRoles:
        """One DescribeDBClusters: status and who is writer, enough to follow a failover."""
        ...

    def find_cluster_roles(self, cluster_id: str) -> ClusterRoles | None:
        """`cluster_roles`, or None once the cluster is gone: one describe to follow a deletion."""
        ...

    def find_instance(self, instance_id: str) -> InstanceSnapshot | None: ...

    def instance_events(self, instance_id: str, since: datetime) -> list[tuple[datetime, str]]:
        """RDS events of one instance from `since` on (DescribeEvents, every page), oldest first."""
        ...

    def is_orderable(self, engine: str, engine_version: str, instance_class: str) -> bool: ...

    def create_cluster_instance(
        self,
        *,
        instance_id: str,
        cluster_id: str,
        engine: str,
        instance_class: str,
        promotion_tier: int,
        availability_zone: str | None,
        parameter_group: str | None,
        tags: dict[str, str],
        settings: dict[str, Any],
    ) -> None:
        """CreateDBInstance into a cluster, with the per-instance settings of `instance_settings`."""
        ...

    def modify_instance(
        self, instance_id: str, *, instance_class: str | None = None, promotion_tier: int | None = None
    ) -> None: ...

    def failover(self, cluster_id: str, target_instance_id: str) -> None: ...

    def delete_instance(self, instance_id: str) -> None: ...

    def reboot_instance(self, instance_id: str) -> None:
        """Not retried here: a reboot whose answer was lost may have happened (the caller looks first)."""
        ...

    def modify_cluster_storage(self, cluster_id: str, storage_type: str) -> None:
        """Aurora storage configuration, changed in place on the cluster (no instance is touched)."""
        ...

    def engine_version(self, engine: str, version: str) -> dict[str, Any] | None:
        """One engine version (with `ValidUpgradeTarget` and `DBParameterGroupFamily`); None if unknown."""
        ...

    def blue_green_deployments(self, source_arn: str | None = None) -> list[dict[str, Any]]:
        """Every deployment (of one source cluster ARN if given), all pages."""
        ...

    def find_blue_green_deployment(self, deployment_id: str) -> dict[str, Any] | None: ...

    def create_blue_green_deployment(
        self,
        *,
        name: str,
        source_arn: str,
        target_engine_version: str,
        cluster_parameter_group: str | None,
        instance_parameter_group: str | None,
        tags: dict[str, str],
    ) -> dict[str, Any]: ...

    def switchover_blue_green_deployment(self, deployment_id: str, timeout: int) -> None: ...

    def delete_blue_green_deployment(self, deployment_id: str, *, delete_target: bool) -> None: ...

    def delete_switched_over_blue_green_deployment(self, deployment_id: str) -> None:
        """DeleteBlueGreenDeployment without `DeleteTarget`: AWS refuses the parameter (even false) once the"""
        ...

    def turn_off_cluster_deletion_protection(self, cluster_id: str) -> None:
        """ModifyDBCluster DeletionProtection=false (idempotent on AWS: off stays off)."""
        ...

    def find_cluster(self, cluster_id: str) -> ClusterSnapshot | None: ...

    def delete_cluster(self, cluster_id: str, final_snapshot_id: str) -> None: ...

    def list_tags(self, arn: str) -> dict[str, str]: ...

    def add_tags(self, arn: str, tags: dict[str, str]) -> None: ...

    def parameter_group(self, kind: ParameterGroupKind, name: str) -> dict[str, Any] | None:
        """A cluster or instance parameter group (name, family, ARN); None if it does not exist."""
        ...

    def parameters(self, kind: ParameterGroupKind, name: str, source: str | None = None) -> list[dict[str, Any]]:
        """The parameters of a group, all pages; `source="user"` for the ones a person set."""
        ...

    def create_parameter_group(
        self, kind: ParameterGroupKind, name: str, family: str, description: str, tags: dict[str, str]
    ) -> None: ...

    def modify_parameter_group(self, kind: ParameterGroupKind, name: str, parameters: list[dict[str, Any]]) -> None:
        """At most 20 parameters per call (AWS's limit): the caller batches."""
        ...

    def delete_parameter_group(self, kind: ParameterGroupKind, name: str) -> None: ...

    def pending_maintenance(self) -> list[dict[str, Any]]:
        """Every pending maintenance action of the region, all pages (callers pick their resources)."""
        ...

    def db_proxies(self) -> list[dict[str, Any]]: ...

    def proxy_targets(self, proxy: str, target_group: str) -> list[dict[str, Any]]: ...
