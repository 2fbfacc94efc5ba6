"""The RDS gateway: the one place that talks to boto3's RDS client.

It turns responses into the typed snapshots of `rds_maint.snapshots` (plain data, so that plans
read AWS state without loading the SDK) and every error into one of the kinds the engine acts
on: transient (a read is sent again here, with full jitter, a bounded number of times), busy (the
resource refuses for now: try on a later call), credentials or parameters (a person must fix
something before anything is sent: never retried) and needs-a-person.

Retries follow `rds_maint.retry`: botocore sends each request once; reads are retried here on
throttling, 5xx and connection errors; a mutating call is sent again only after a throttling
answer (AWS did not apply it). A 5xx or a lost connection on a mutating call is raised as
transient at once: the engine runs the step again on a later advance, and the action looks at
AWS before it acts, so an effect that did happen is found, not repeated.

What each error code means lives in `rds_maint.rds_errors`; the API shapes to and from snapshots in
`rds_maint.rds_shapes`. Which client the gateway gets is the wiring's business (`rds_maint.wiring`):
nothing here is registered process-wide.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from rds_maint import credentials
from rds_maint.ports import ParameterGroupKind, RdsPort, TargetKindName
from rds_maint.rds_errors import (
    BLUE_GREEN_NOT_FOUND,
    CLUSTER_NOT_FOUND,
    INSTANCE_NOT_FOUND,
    PARAMETER_GROUP_NOT_FOUND,
    classify,
    retryable,
    unless_missing,
)
from rds_maint.rds_shapes import all_pages, cluster_from_api, instance_from_api, roles_from_api, tag_list, tags_of
from rds_maint.retry import MUTATING_THROTTLED, READS, SDK_RETRIES, RetryPolicy, call_with_retries, is_read
from rds_maint.snapshots import ClusterRoles, ClusterSnapshot, InstanceSnapshot

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

__all__ = ["CLUSTER_NOT_FOUND", "RdsGateway", "make_rds_client"]


def make_rds_client(region: str, profile: str | None = None) -> RDSClient:
    """An RDS client that sends each request once (`retry.SDK_RETRIES`): the gateway is the only retry layer.

    The one client factory of the real wiring (`rds_maint.wiring`); a test or the demo wraps it so that
    the simulator attaches to each client it makes.
    """
    from botocore.config import Config  # here, not at import: a command that never calls RDS never loads it

    client: RDSClient = credentials.client("rds", profile, region, Config(retries=SDK_RETRIES.copy()))
    return client


class RdsGateway:
    """Typed, classified access to RDS for one region.

    Every call goes through `call`, so error classes and call counts are the same for
    reads and writes, and retries follow one policy (`rds_maint.retry`). `sleep` is
    injectable so that retries spend virtual time in the simulator; `attempts` and
    `max_backoff` tune the policy (tests).
    """

    def __init__(
        self,
        client: RDSClient,
        *,
        sleep: Callable[[float], None] | None = None,
        attempts: int | None = None,
        max_backoff: float | None = None,
    ) -> None:
        self.client = client
        self.calls: Counter[str] = Counter()
        self._sleep = sleep
        self._reads = _tuned(READS, attempts, max_backoff)
        self._throttled_writes = _tuned(MUTATING_THROTTLED, attempts, max_backoff)
        self._profile = credentials.profile_of(client)

    def call(self, operation: str, *, retry_transient: bool = True, **kwargs: Any) -> Any:
        """One logical RDS API call. Reads are sent again on throttling, 5xx and connection errors; a
        mutating call only on throttling. `retry_transient=False` sends it once whatever the answer."""
        method = getattr(self.client, _snake(operation))

        def once() -> Any:
            self.calls[operation] += 1
            try:
                return method(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise classify(operation, exc, self._profile) from exc

        policy = self._reads if is_read(operation) else self._throttled_writes
        if not retry_transient:
            policy = RetryPolicy(attempts=1, base=policy.base, cap=policy.cap)
        return call_with_retries(once, retryable(operation), policy, self._sleep or time.sleep)

    def check_credentials(self) -> None:
        """Fail now, with the fix in the message, when the client has no usable credentials."""
        credentials.check(self.client, "RDS credentials")

    # -- reads -------------------------------------------------------------------------

    def describe_cluster(self, cluster_id: str) -> ClusterSnapshot:
        """One DescribeDBClusters plus one DescribeDBInstances filtered by cluster."""
        data = self.call("DescribeDBClusters", DBClusterIdentifier=cluster_id)["DBClusters"][0]
        instances = self.call("DescribeDBInstances", Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}])[
            "DBInstances"
        ]
        return cluster_from_api(data, instances)

    def cluster_roles(self, cluster_id: str) -> ClusterRoles:
        """One DescribeDBClusters: status and who is writer, enough to follow a failover."""
        data = self.call("DescribeDBClusters", DBClusterIdentifier=cluster_id)["DBClusters"][0]
        return roles_from_api(data)

    def find_cluster_roles(self, cluster_id: str) -> ClusterRoles | None:
        """`cluster_roles`, or None once the cluster is gone: one describe to follow a deletion."""
        return unless_missing(CLUSTER_NOT_FOUND, lambda: self.cluster_roles(cluster_id))

    def find_instance(self, instance_id: str) -> InstanceSnapshot | None:
        found = unless_missing(
            INSTANCE_NOT_FOUND, lambda: self.call("DescribeDBInstances", DBInstanceIdentifier=instance_id)
        )
        rows = (found or {}).get("DBInstances") or []
        return instance_from_api(rows[0]) if rows else None

    def instance_events(self, instance_id: str, since: datetime) -> list[tuple[datetime, str]]:
        """RDS events of one instance from `since` on (DescribeEvents, every page), oldest first."""
        found: list[tuple[datetime, str]] = []
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "SourceType": "db-instance",
                "SourceIdentifier": instance_id,
                "StartTime": since,
                "MaxRecords": 100,
            }
            if marker:
                kwargs["Marker"] = marker
            page = self.call("DescribeEvents", **kwargs)
            found += [(e["Date"], str(e.get("Message", ""))) for e in page.get("Events", []) if e.get("Date")]
            marker = page.get("Marker")
            if not marker:
                return sorted(found, key=lambda item: item[0])

    def orderable_options(self, engine: str, engine_version: str, instance_class: str) -> list[dict[str, Any]]:
        """Every DescribeOrderableDBInstanceOptions row of one class (one per storage type, zone group...)."""
        rows = all_pages(
            lambda extra: self.call(
                "DescribeOrderableDBInstanceOptions",
                Engine=engine,
                EngineVersion=engine_version,
                DBInstanceClass=instance_class,
                **extra,
            ),
            "OrderableDBInstanceOptions",
        )
        return [dict(r) for r in rows if r.get("DBInstanceClass") == instance_class]

    def is_orderable(self, engine: str, engine_version: str, instance_class: str) -> bool:
        options = self.call(
            "DescribeOrderableDBInstanceOptions",
            Engine=engine,
            EngineVersion=engine_version,
            DBInstanceClass=instance_class,
        )
        return any(o.get("DBInstanceClass") == instance_class for o in options.get("OrderableDBInstanceOptions", []))

    # -- writes (callers check first whether the effect already exists) -----------------

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

        The settings are sent as they are: AWS does not copy them from the cluster or its writer.
        """
        kwargs: dict[str, Any] = {
            "DBInstanceIdentifier": instance_id,
            "DBClusterIdentifier": cluster_id,
            "Engine": engine,
            "DBInstanceClass": instance_class,
            "PromotionTier": promotion_tier,
            "Tags": tag_list(tags),
            **settings,
        }
        if availability_zone:
            kwargs["AvailabilityZone"] = availability_zone
        if parameter_group:
            kwargs["DBParameterGroupName"] = parameter_group
        self.call("CreateDBInstance", **kwargs)

    def modify_instance(
        self, instance_id: str, *, instance_class: str | None = None, promotion_tier: int | None = None
    ) -> None:
        kwargs: dict[str, Any] = {"DBInstanceIdentifier": instance_id, "ApplyImmediately": True}
        if instance_class is not None:
            kwargs["DBInstanceClass"] = instance_class
        if promotion_tier is not None:
            kwargs["PromotionTier"] = promotion_tier
        self.call("ModifyDBInstance", **kwargs)

    def failover(self, cluster_id: str, target_instance_id: str) -> None:
        self.call("FailoverDBCluster", DBClusterIdentifier=cluster_id, TargetDBInstanceIdentifier=target_instance_id)

    def delete_instance(self, instance_id: str) -> None:
        self.call("DeleteDBInstance", DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)

    def reboot_instance(self, instance_id: str, *, force_failover: bool = False) -> None:
        """Not retried here: a reboot whose answer was lost may have happened (the caller looks first)."""
        kwargs: dict[str, Any] = {"DBInstanceIdentifier": instance_id}
        if force_failover:
            kwargs["ForceFailover"] = True
        self.call("RebootDBInstance", retry_transient=False, **kwargs)

    def modify_instance_storage(
        self,
        instance_id: str,
        *,
        storage_type: str | None,
        iops: int | None = None,
        storage_throughput: int | None = None,
        allocated_storage: int | None = None,
    ) -> None:
        """ModifyDBInstance of a DB instance's storage, applied immediately; None values are not sent."""
        kwargs: dict[str, Any] = {"DBInstanceIdentifier": instance_id, "ApplyImmediately": True}
        for key, value in (
            ("StorageType", storage_type),
            ("Iops", iops),
            ("StorageThroughput", storage_throughput),
            ("AllocatedStorage", allocated_storage),
        ):
            if value is not None:
                kwargs[key] = value
        self.call("ModifyDBInstance", **kwargs)

    def upgrade_instance_in_place(
        self, instance_id: str, *, engine_version: str, allow_major: bool, parameter_group: str | None = None
    ) -> None:
        """ModifyDBInstance EngineVersion, applied immediately: the instance is down while it upgrades."""
        kwargs: dict[str, Any] = {
            "DBInstanceIdentifier": instance_id,
            "EngineVersion": engine_version,
            "ApplyImmediately": True,
        }
        if allow_major:
            kwargs["AllowMajorVersionUpgrade"] = True
        if parameter_group:
            kwargs["DBParameterGroupName"] = parameter_group
        self.call("ModifyDBInstance", **kwargs)

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
        """ModifyDBCluster of a Multi-AZ DB cluster (its members' class and storage), applied immediately."""
        kwargs: dict[str, Any] = {"DBClusterIdentifier": cluster_id, "ApplyImmediately": True}
        for key, value in (
            ("DBClusterInstanceClass", instance_class),
            ("StorageType", storage_type),
            ("Iops", iops),
            ("AllocatedStorage", allocated_storage),
            ("EngineVersion", engine_version),
        ):
            if value is not None:
                kwargs[key] = value
        if allow_major:
            kwargs["AllowMajorVersionUpgrade"] = True
        self.call("ModifyDBCluster", **kwargs)

    def reboot_cluster(self, cluster_id: str) -> None:
        """RebootDBCluster (Multi-AZ DB clusters), not retried here: the caller looks at the events first."""
        self.call("RebootDBCluster", retry_transient=False, DBClusterIdentifier=cluster_id)

    def modify_cluster_storage(self, cluster_id: str, storage_type: str) -> None:
        """Aurora storage configuration, changed in place on the cluster (no instance is touched)."""
        self.call("ModifyDBCluster", DBClusterIdentifier=cluster_id, StorageType=storage_type, ApplyImmediately=True)

    # -- engine_upgrade: versions, Blue/Green, clusters, parameter groups, proxies, maintenance ------
    # Raw AWS shapes (dicts) on purpose: the actions read a few fields each and report the rest.
    # Mutating Blue/Green calls are not retried here: their effect may exist after a lost answer,
    # and the action looks at AWS first on its next turn.

    def engine_version(self, engine: str, version: str) -> dict[str, Any] | None:
        """One engine version (with `ValidUpgradeTarget` and `DBParameterGroupFamily`); None if unknown."""
        found = self.call("DescribeDBEngineVersions", Engine=engine, EngineVersion=version)
        rows = found.get("DBEngineVersions") or []
        return dict(rows[0]) if rows else None

    def blue_green_deployments(self, source_arn: str | None = None) -> list[dict[str, Any]]:
        """Every deployment (of one source cluster ARN if given), all pages."""
        filters = [{"Name": "source", "Values": [source_arn]}] if source_arn else []
        return all_pages(
            lambda extra: self.call("DescribeBlueGreenDeployments", Filters=filters, **extra), "BlueGreenDeployments"
        )

    def find_blue_green_deployment(self, deployment_id: str) -> dict[str, Any] | None:
        found = unless_missing(
            BLUE_GREEN_NOT_FOUND,
            lambda: self.call("DescribeBlueGreenDeployments", BlueGreenDeploymentIdentifier=deployment_id),
        )
        rows = (found or {}).get("BlueGreenDeployments") or []
        return dict(rows[0]) if rows else None

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
        kwargs: dict[str, Any] = {
            "BlueGreenDeploymentName": name,
            "Source": source_arn,
            "TargetEngineVersion": target_engine_version,
            "Tags": tag_list(tags),
            **(target_settings or {}),
        }
        if cluster_parameter_group:
            kwargs["TargetDBClusterParameterGroupName"] = cluster_parameter_group
        if instance_parameter_group:
            kwargs["TargetDBParameterGroupName"] = instance_parameter_group
        created = self.call("CreateBlueGreenDeployment", retry_transient=False, **kwargs)
        return dict(created["BlueGreenDeployment"])

    def switchover_blue_green_deployment(self, deployment_id: str, timeout: int) -> None:
        self.call(
            "SwitchoverBlueGreenDeployment",
            retry_transient=False,
            BlueGreenDeploymentIdentifier=deployment_id,
            SwitchoverTimeout=timeout,
        )

    def delete_blue_green_deployment(self, deployment_id: str, *, delete_target: bool) -> None:
        self.call(
            "DeleteBlueGreenDeployment",
            retry_transient=False,
            BlueGreenDeploymentIdentifier=deployment_id,
            DeleteTarget=delete_target,
        )

    def delete_switched_over_blue_green_deployment(self, deployment_id: str) -> None:
        """DeleteBlueGreenDeployment without `DeleteTarget`: AWS refuses the parameter (even false) once the
        deployment is SWITCHOVER_COMPLETED (API reference), and the target is then the upgraded cluster."""
        self.call("DeleteBlueGreenDeployment", retry_transient=False, BlueGreenDeploymentIdentifier=deployment_id)

    def turn_off_cluster_deletion_protection(self, cluster_id: str) -> None:
        """ModifyDBCluster DeletionProtection=false (idempotent on AWS: off stays off)."""
        self.call("ModifyDBCluster", DBClusterIdentifier=cluster_id, DeletionProtection=False, ApplyImmediately=True)

    def find_cluster(self, cluster_id: str) -> ClusterSnapshot | None:
        return unless_missing(CLUSTER_NOT_FOUND, lambda: self.describe_cluster(cluster_id))

    def delete_cluster(self, cluster_id: str, final_snapshot_id: str) -> None:
        self.call(
            "DeleteDBCluster",
            retry_transient=False,
            DBClusterIdentifier=cluster_id,
            SkipFinalSnapshot=False,
            FinalDBSnapshotIdentifier=final_snapshot_id,
        )

    def list_tags(self, arn: str) -> dict[str, str]:
        return tags_of(self.call("ListTagsForResource", ResourceName=arn).get("TagList"))

    def tagged_targets(self, kind: TargetKindName, key: str, value: str) -> list[str]:
        """Every page of DescribeDBClusters or DescribeDBInstances (100 rows a page, the most AWS gives), each
        row's TagList read here: the API's Filters cannot select by tag."""
        if kind == "cluster":
            rows = all_pages(lambda extra: self.call("DescribeDBClusters", MaxRecords=100, **extra), "DBClusters")
            targets = [r for r in rows if str(r.get("Engine", "")) not in OTHER_SERVICES_ENGINES]
            ids = [str(r["DBClusterIdentifier"]) for r in targets if tags_of(r.get("TagList")).get(key) == value]
        else:
            rows = all_pages(lambda extra: self.call("DescribeDBInstances", MaxRecords=100, **extra), "DBInstances")
            targets = [r for r in rows if not r.get("DBClusterIdentifier")]  # a member is its cluster's
            ids = [str(r["DBInstanceIdentifier"]) for r in targets if tags_of(r.get("TagList")).get(key) == value]
        return sorted(ids)

    def add_tags(self, arn: str, tags: dict[str, str]) -> None:
        self.call("AddTagsToResource", ResourceName=arn, Tags=tag_list(tags))

    def remove_tags(self, arn: str, keys: list[str]) -> None:
        self.call("RemoveTagsFromResource", ResourceName=arn, TagKeys=list(keys))

    def parameter_group(self, kind: ParameterGroupKind, name: str) -> dict[str, Any] | None:
        """A cluster or instance parameter group (name, family, ARN); None if it does not exist."""
        api, argument, key = (
            ("DescribeDBClusterParameterGroups", "DBClusterParameterGroupName", "DBClusterParameterGroups")
            if kind == "cluster"
            else ("DescribeDBParameterGroups", "DBParameterGroupName", "DBParameterGroups")
        )
        by_name: dict[str, Any] = {argument: name}
        found = unless_missing(PARAMETER_GROUP_NOT_FOUND, lambda: self.call(api, **by_name))
        rows = (found or {}).get(key)
        return dict(rows[0]) if rows else None

    def parameters(self, kind: ParameterGroupKind, name: str, source: str | None = None) -> list[dict[str, Any]]:
        """The parameters of a group, all pages; `source="user"` for the ones a person set."""
        extra_source: dict[str, Any] = {"Source": source} if source else {}
        if kind == "cluster":
            return all_pages(
                lambda extra: self.call(
                    "DescribeDBClusterParameters", DBClusterParameterGroupName=name, **extra_source, **extra
                ),
                "Parameters",
            )
        return all_pages(
            lambda extra: self.call("DescribeDBParameters", DBParameterGroupName=name, **extra_source, **extra),
            "Parameters",
        )

    def create_parameter_group(
        self, kind: ParameterGroupKind, name: str, family: str, description: str, tags: dict[str, str]
    ) -> None:
        tag_items = tag_list(tags)
        if kind == "cluster":
            self.call(
                "CreateDBClusterParameterGroup",
                retry_transient=False,
                DBClusterParameterGroupName=name,
                DBParameterGroupFamily=family,
                Description=description,
                Tags=tag_items,
            )
        else:
            self.call(
                "CreateDBParameterGroup",
                retry_transient=False,
                DBParameterGroupName=name,
                DBParameterGroupFamily=family,
                Description=description,
                Tags=tag_items,
            )

    def modify_parameter_group(self, kind: ParameterGroupKind, name: str, parameters: list[dict[str, Any]]) -> None:
        """At most 20 parameters per call (AWS's limit): the caller batches."""
        if kind == "cluster":
            self.call("ModifyDBClusterParameterGroup", DBClusterParameterGroupName=name, Parameters=parameters)
        else:
            self.call("ModifyDBParameterGroup", DBParameterGroupName=name, Parameters=parameters)

    def delete_parameter_group(self, kind: ParameterGroupKind, name: str) -> None:
        if kind == "cluster":
            self.call("DeleteDBClusterParameterGroup", DBClusterParameterGroupName=name)
        else:
            self.call("DeleteDBParameterGroup", DBParameterGroupName=name)

    def pending_maintenance(self) -> list[dict[str, Any]]:
        """Every pending maintenance action of the region, all pages (callers pick their resources)."""
        return all_pages(
            lambda extra: self.call("DescribePendingMaintenanceActions", **extra), "PendingMaintenanceActions"
        )

    def db_proxies(self) -> list[dict[str, Any]]:
        return all_pages(lambda extra: self.call("DescribeDBProxies", **extra), "DBProxies")

    def proxy_targets(self, proxy: str, target_group: str) -> list[dict[str, Any]]:
        return all_pages(
            lambda extra: self.call("DescribeDBProxyTargets", DBProxyName=proxy, TargetGroupName=target_group, **extra),
            "Targets",
        )

    # -- instance Blue/Green (helper B2) --------------------------------------------------------------

    def delete_instance_with_final_snapshot(self, instance_id: str, final_snapshot_id: str) -> None:
        self.call(
            "DeleteDBInstance",
            DBInstanceIdentifier=instance_id,
            SkipFinalSnapshot=False,
            FinalDBSnapshotIdentifier=final_snapshot_id,
        )


# DescribeDBClusters "can also return information for Amazon Neptune DB instances and Amazon DocumentDB
# instances" (API reference): those are no RDS targets, whatever their tags.
OTHER_SERVICES_ENGINES = frozenset({"neptune", "docdb"})


def _tuned(policy: RetryPolicy, attempts: int | None, cap: float | None) -> RetryPolicy:
    return RetryPolicy(
        attempts=policy.attempts if attempts is None else attempts,
        base=policy.base,
        cap=policy.cap if cap is None else cap,
    )


def _snake(operation: str) -> str:
    """DescribeDBClusters -> describe_db_clusters, as botocore names client methods."""
    from botocore import xform_name

    return str(xform_name(operation))


def _as_port(gateway: RdsGateway) -> RdsPort:
    """mypy proves here that `RdsGateway` implements `RdsPort` (a protocol cannot be checked by assignment
    of the class itself)."""
    return gateway
