"""Ports: what the engine, the planner and the actions need from AWS, as protocols.

Nothing here loads boto3 or botocore: the real `rds_maint.rds.RdsGateway` implements `RdsPort` (mypy
checks it in `rds_maint.rds._as_port`), and so can an in-memory fake in unit tests. The wiring
(`rds_maint.wiring`) decides which one an engine gets.

What every method raises, unless its docstring says otherwise: only the classes of `rds_maint.errors`,
never a botocore exception.

- `TransientAwsError`: throttling (`ThrottledAwsError`), a 5xx or a lost connection. A read has been
  sent again within the retry policy (`rds_maint.retry`) before this is raised; a mutating call only
  after throttling, since after a 5xx or a lost answer its effect may exist (the caller looks first
  on its next turn).
- `BusyAwsError`: the resource is in a state that refuses the call for now (InvalidDB*State); try on
  a later advance.
- `PersonAwsError`: anything else AWS refused: a missing resource, a quota, a parameter AWS rejected.
  Its kinds `CredentialsError` (no, expired or refused credentials: never retried) and
  `AwsParameterError` (the request did not validate, also `BadInput`) are raised before anything is
  applied.
- `find_*` methods answer None for a resource that does not exist instead of raising
  `PersonAwsError`; the other reads raise it (a `...NotFound` code) for a missing resource.
- Methods marked *sent once* are not sent again even after a transient error: a lost answer may hide
  an effect (a reboot, a Blue/Green create or switchover, a deletion), and sending it twice is worse
  than a later look.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any, Literal, Protocol

from rds_maint.snapshots import ClusterRoles, ClusterSnapshot, InstanceSnapshot

__all__ = ["ParameterGroupKind", "RdsPort", "RequestMeter", "TargetKindName"]

ParameterGroupKind = Literal["cluster", "instance"]
# What a campaign names its targets as: DB clusters (Aurora, Multi-AZ) or DB instances of their own.
TargetKindName = Literal["cluster", "instance"]


class RequestMeter(Protocol):
    """Counts the RDS requests the engine's ports send (the wiring hangs it on each client)."""

    def take(self) -> int:
        """Requests sent since the last take."""
        ...


class RdsPort(Protocol):
    """RDS in one region, typed and with errors classed (see the module docstring for what it raises)."""

    calls: Counter[str]  # logical API calls sent, by operation name (benchmarks and tests read it)

    def check_credentials(self) -> None:
        """Fail now, with the fix in the message, when the client has no usable credentials.

        Raises `CredentialsError` (nothing is sent to RDS: the credentials are resolved locally)."""
        ...

    def describe_cluster(self, cluster_id: str) -> ClusterSnapshot:
        """One DescribeDBClusters plus one DescribeDBInstances filtered by cluster.

        Raises `PersonAwsError` with code DBClusterNotFoundFault when the cluster does not exist."""
        ...

    def cluster_roles(self, cluster_id: str) -> ClusterRoles:
        """One DescribeDBClusters: status and who is writer, enough to follow a failover.

        Raises `PersonAwsError` with code DBClusterNotFoundFault when the cluster does not exist."""
        ...

    def find_cluster_roles(self, cluster_id: str) -> ClusterRoles | None:
        """`cluster_roles`, or None once the cluster is gone: one describe to follow a deletion."""
        ...

    def find_instance(self, instance_id: str) -> InstanceSnapshot | None:
        """One DescribeDBInstances; None when the instance does not exist."""
        ...

    def instance_events(self, instance_id: str, since: datetime) -> list[tuple[datetime, str]]:
        """RDS events of one instance from `since` on (DescribeEvents, every page), oldest first."""
        ...

    def is_orderable(self, engine: str, engine_version: str, instance_class: str) -> bool:
        """Whether the class can be ordered for this engine and version in the region
        (DescribeOrderableDBInstanceOptions)."""
        ...

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
        """CreateDBInstance into a cluster, with the per-instance settings of `instance_settings`.

        Sent again only after throttling; an instance that already exists is a `PersonAwsError`
        (DBInstanceAlreadyExists): the caller looks for it first."""
        ...

    def modify_instance(
        self, instance_id: str, *, instance_class: str | None = None, promotion_tier: int | None = None
    ) -> None:
        """ModifyDBInstance, applied immediately. `BusyAwsError` while the instance is not available."""
        ...

    def failover(self, cluster_id: str, target_instance_id: str) -> None:
        """FailoverDBCluster to `target_instance_id`. `BusyAwsError` while the cluster or a member is busy."""
        ...

    def delete_instance(self, instance_id: str) -> None:
        """DeleteDBInstance without a final snapshot (cluster members keep none).

        A `PersonAwsError` DBInstanceNotFound once it is gone: the caller looks first."""
        ...

    def reboot_instance(self, instance_id: str, *, force_failover: bool = False) -> None:
        """RebootDBInstance, *sent once*: a reboot whose answer was lost may have happened (the caller
        looks at the instance's events first). `force_failover` only for a Multi-AZ DB instance (AWS
        refuses it for a Single-AZ one): the standby takes over before the old primary restarts."""
        ...

    def modify_instance_storage(
        self,
        instance_id: str,
        *,
        storage_type: str | None,
        iops: int | None = None,
        storage_throughput: int | None = None,
        allocated_storage: int | None = None,
    ) -> None:
        """ModifyDBInstance StorageType/Iops/StorageThroughput/AllocatedStorage of a DB instance, applied
        immediately (None: not sent). `PersonAwsError` when AWS refuses the values, or within 6 hours of the
        last storage change / during storage optimization (the caller has checked, AWS has the last word)."""
        ...

    def upgrade_instance_in_place(
        self, instance_id: str, *, engine_version: str, allow_major: bool, parameter_group: str | None = None
    ) -> None:
        """ModifyDBInstance EngineVersion (AllowMajorVersionUpgrade), applied immediately; the instance (and
        its standby) is down while it upgrades."""
        ...

    def modify_multi_az_cluster(
        self,
        cluster_id: str,
        *,
        instance_class: str | None = None,
        storage_type: str | None = None,
        iops: int | None = None,
        allocated_storage: int | None = None,
        engine_version: str | None = None,
        allow_major: bool = False,
    ) -> None:
        """ModifyDBCluster of a Multi-AZ DB cluster, applied immediately (None: not sent): AWS changes the
        members itself (readers first, then a failover); their own instances cannot be modified."""
        ...

    def reboot_cluster(self, cluster_id: str) -> None:
        """RebootDBCluster of a Multi-AZ DB cluster (every member at once), *sent once*."""
        ...

    def orderable_options(self, engine: str, engine_version: str, instance_class: str) -> list[dict[str, Any]]:
        """DescribeOrderableDBInstanceOptions rows of one class, all pages (one per storage type and zone
        group): storage limits (Min/MaxStorageSize, Min/MaxIopsPerGib, ...) and MultiAZCapable."""
        ...

    def modify_cluster_storage(self, cluster_id: str, storage_type: str) -> None:
        """Aurora storage configuration, changed in place on the cluster (no instance is touched).

        `PersonAwsError` when AWS refuses the switch (for example before IOOptimizedNextAllowedModificationTime)."""
        ...

    def engine_version(self, engine: str, version: str) -> dict[str, Any] | None:
        """One engine version (with `ValidUpgradeTarget` and `DBParameterGroupFamily`); None if unknown."""
        ...

    def blue_green_deployments(self, source_arn: str | None = None) -> list[dict[str, Any]]:
        """Every deployment (of one source cluster ARN if given), all pages."""
        ...

    def find_blue_green_deployment(self, deployment_id: str) -> dict[str, Any] | None:
        """One deployment by id; None when it does not exist (any more)."""
        ...

    def create_blue_green_deployment(
        self,
        *,
        name: str,
        source_arn: str,
        target_engine_version: str,
        cluster_parameter_group: str | None,
        instance_parameter_group: str | None,
        tags: dict[str, str],
        target_settings: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """CreateBlueGreenDeployment, *sent once*; the deployment as AWS answered it. `target_settings`: the
        DB-instance-only green shape (TargetDBInstanceClass, TargetStorageType, TargetIops, ...), as sent."""
        ...

    def switchover_blue_green_deployment(self, deployment_id: str, timeout: int) -> None:
        """SwitchoverBlueGreenDeployment, *sent once*: a switchover must never be asked for twice."""
        ...

    def delete_blue_green_deployment(self, deployment_id: str, *, delete_target: bool) -> None:
        """DeleteBlueGreenDeployment before a switchover, *sent once*; `delete_target` removes the green
        resources too."""
        ...

    def delete_switched_over_blue_green_deployment(self, deployment_id: str) -> None:
        """DeleteBlueGreenDeployment without `DeleteTarget`, *sent once*: AWS refuses the parameter (even
        false) once the deployment is SWITCHOVER_COMPLETED, and the target is then the upgraded cluster."""
        ...

    def turn_off_cluster_deletion_protection(self, cluster_id: str) -> None:
        """ModifyDBCluster DeletionProtection=false (idempotent on AWS: off stays off)."""
        ...

    def find_cluster(self, cluster_id: str) -> ClusterSnapshot | None:
        """`describe_cluster`, or None when the cluster does not exist."""
        ...

    def delete_cluster(self, cluster_id: str, final_snapshot_id: str) -> None:
        """DeleteDBCluster with a final snapshot, *sent once*. `PersonAwsError` while deletion protection
        is on (InvalidParameterCombination) or when the snapshot name is taken."""
        ...

    def list_tags(self, arn: str) -> dict[str, str]:
        """ListTagsForResource: the resource's tags as a dict."""
        ...

    def tagged_targets(self, kind: TargetKindName, key: str, value: str) -> list[str]:
        """The identifiers of every target of `kind` whose tag `key` is `value`, sorted: kind "cluster", the
        DB clusters (Aurora and Multi-AZ; DescribeDBClusters, every page); kind "instance", the DB instances
        in no DB cluster (DescribeDBInstances, every page; a cluster's member is the cluster's to change).

        Each row's `TagList` is read: RDS `Filters` take no tag (docs/aws-behaviour.md, "Campaign targets")."""
        ...

    def add_tags(self, arn: str, tags: dict[str, str]) -> None:
        """AddTagsToResource (idempotent on AWS: the same tag again changes nothing)."""
        ...

    def remove_tags(self, arn: str, keys: list[str]) -> None:
        """RemoveTagsFromResource of `keys`. The caller reads the tags first and removes only what it
        still owns: AWS has no condition on a tag's value, so a blind removal could drop another's."""
        ...

    def parameter_group(self, kind: ParameterGroupKind, name: str) -> dict[str, Any] | None:
        """A cluster or instance parameter group (name, family, ARN); None if it does not exist."""
        ...

    def parameters(self, kind: ParameterGroupKind, name: str, source: str | None = None) -> list[dict[str, Any]]:
        """The parameters of a group, all pages; `source="user"` for the ones a person set."""
        ...

    def create_parameter_group(
        self, kind: ParameterGroupKind, name: str, family: str, description: str, tags: dict[str, str]
    ) -> None:
        """CreateDB(Cluster)ParameterGroup, *sent once*; a group of that name already there is a
        `PersonAwsError` (DBParameterGroupAlreadyExists): the caller looks first."""
        ...

    def modify_parameter_group(self, kind: ParameterGroupKind, name: str, parameters: list[dict[str, Any]]) -> None:
        """At most 20 parameters per call (AWS's limit): the caller batches."""
        ...

    def delete_parameter_group(self, kind: ParameterGroupKind, name: str) -> None:
        """DeleteDB(Cluster)ParameterGroup. `PersonAwsError` (InvalidDBParameterGroupState) while a cluster
        or instance still uses it."""
        ...

    def pending_maintenance(self) -> list[dict[str, Any]]:
        """Every pending maintenance action of the region, all pages (callers pick their resources)."""
        ...

    def db_proxies(self) -> list[dict[str, Any]]:
        """Every RDS Proxy of the region, all pages."""
        ...

    def proxy_targets(self, proxy: str, target_group: str) -> list[dict[str, Any]]:
        """The targets of one proxy's target group, all pages (a missing proxy is a `PersonAwsError`)."""
        ...

    # -- instance Blue/Green (helper B2) --------------------------------------------------------------

    def delete_instance_with_final_snapshot(self, instance_id: str, final_snapshot_id: str) -> None:
        """DeleteDBInstance with FinalDBSnapshotIdentifier (the old blue instance after a Blue/Green switchover).

        `PersonAwsError` DBSnapshotAlreadyExists when the name is taken, DBInstanceNotFound once it is gone,
        InvalidDBInstanceState while it is busy: the caller looks first."""
        ...
