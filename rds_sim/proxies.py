"""RDS Proxy as Aurora users meet it: target groups, a tracked cluster, per-instance target health.

moto implements proxies thinly: creating one needs real EC2 subnets, `DescribeDBProxyTargets`
ignores the target group, an unknown proxy name is a server error (KeyError), a registered
cluster yields only its `TRACKED_CLUSTER` target (AWS adds one `RDS_INSTANCE` target per member),
and health toggles from REGISTERING to AVAILABLE on the second read. So proxies live here, with
AWS's shapes and refusals:

* a target group (`default`) tracks at most one Aurora cluster; its `TRACKED_CLUSTER` target has
  no `TargetHealth` (as on AWS); its `RDS_INSTANCE` targets are the cluster's members *now*, with
  a role (`READ_WRITE` for the writer) and a health that reads `REGISTERING` for a while after a
  registration or a Blue/Green switchover (`settle_seconds`), `UNAVAILABLE` while the instance is
  not `available`, else `AVAILABLE`;
* a cluster that is the source of a Blue/Green deployment cannot be registered (it must be a
  proxy target *before* the deployment is created);
* at the end of a switchover the proxy follows the cluster id to the new (green) cluster, as
  AWS documents; `fail_to_follow_switchover` makes a proxy stay on the old blue cluster instead,
  so that an engine's verification (and its pause with the commands to fix it) can be tested.

Targets are recorded by cluster identifier, which is what AWS shows (`RdsResourceId`).

An RDS for PostgreSQL, MySQL or MariaDB DB instance (of its own, not a cluster member) is registered by
`DBInstanceIdentifiers` and shows one `RDS_INSTANCE` target. RDS Proxy supports Blue/Green for these
engines, and the same rules hold ("Using RDS Proxy with Blue/Green Deployments", RDS user guide): the
instance must be a proxy target before the deployment is created, the proxy follows the instance's name
to green at the switchover, and describe-db-proxy-targets shows the change only once the switchover has
completed (REGISTERING for the settling time here, as for a cluster).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rds_sim.errors import ApiError, cluster_not_found, cluster_state
from rds_sim.paging import page
from rds_sim.world_protocol import World

DEFAULT_TARGET_GROUP = "default"
_ENGINE_FAMILIES = {
    "aurora-postgresql": "POSTGRESQL",
    "aurora-mysql": "MYSQL",
    "postgres": "POSTGRESQL",
    "mysql": "MYSQL",
    "mariadb": "MYSQL",
}
_PORTS = {"POSTGRESQL": 5432, "MYSQL": 3306, "SQLSERVER": 1433}
_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9]|-(?!-))*")
_ACCOUNT = "123456789012"


@dataclass
class _TargetGroup:
    name: str
    clusters: list[str] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)  # DB instances of their own (RDS engines)


@dataclass
class _Proxy:
    name: str
    engine_family: str
    arn: str
    created: datetime
    status: str = "available"
    target_groups: dict[str, _TargetGroup] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)
    # until when the instance targets read REGISTERING (after a registration or a switchover)
    settling_until: datetime | None = None
    # a target health forced by a test: (state, reason, description)
    forced_health: tuple[str, str, str] | None = None
    stays_on_old_cluster: bool = False


def _not_found(name: str) -> ApiError:
    return ApiError("DBProxyNotFoundFault", f"DBProxy {name} not found.", 404)


class ProxySim:
    """The RDS Proxy calls of one simulated region (`sim.proxies`)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._proxies: dict[str, _Proxy] = {}
        # REGISTERING after a registration or a switchover (before time_scale): "for a while" on AWS; two
        # minutes here, so that a verification that does not wait for it fails.
        self.settle_seconds = 120.0

    def handlers(self) -> dict[str, Any]:
        return {
            "CreateDBProxy": self.create_db_proxy,
            "DescribeDBProxies": self.describe_db_proxies,
            "DeleteDBProxy": self.delete_db_proxy,
            "DescribeDBProxyTargetGroups": self.describe_db_proxy_target_groups,
            "DescribeDBProxyTargets": self.describe_db_proxy_targets,
            "RegisterDBProxyTargets": self.register_db_proxy_targets,
            "DeregisterDBProxyTargets": self.deregister_db_proxy_targets,
        }

    # -- setting the scene (tests, demo) ------------------------------------------------------

    def seed_proxy(self, name: str, cluster_id: str, *, engine_family: str | None = None) -> None:
        """A proxy whose default target group already tracks `cluster_id`, healthy now."""
        cluster = self.world.moto.cluster(cluster_id)
        if cluster is None:
            raise KeyError(f"no cluster {cluster_id!r}")
        family = engine_family or _ENGINE_FAMILIES.get(str(cluster["Engine"]), "POSTGRESQL")
        self.create_db_proxy({"DBProxyName": name, "EngineFamily": family, "RoleArn": "r", "Auth": [{}]})
        self._proxies[name].target_groups[DEFAULT_TARGET_GROUP].clusters.append(cluster_id)

    def seed_instance_proxy(self, name: str, instance_id: str) -> None:
        """A proxy whose default target group already has the DB instance `instance_id` as target, healthy now."""
        instance = self.world.moto.instance(instance_id)
        if instance is None:
            raise KeyError(f"no instance {instance_id!r}")
        family = _ENGINE_FAMILIES.get(str(instance["Engine"]), "POSTGRESQL")
        self.create_db_proxy({"DBProxyName": name, "EngineFamily": family, "RoleArn": "r", "Auth": [{}]})
        self._proxies[name].target_groups[DEFAULT_TARGET_GROUP].instances.append(instance_id)

    def set_target_health(self, proxy: str, state: str, reason: str = "", description: str = "") -> None:
        """Force every target of the proxy to this health (e.g. UNAVAILABLE, AUTH_FAILURE)."""
        self._proxy(proxy).forced_health = (state, reason, description)

    def clear_target_health(self, proxy: str) -> None:
        self._proxy(proxy).forced_health = None

    def set_status(self, proxy: str, status: str) -> None:
        """The proxy's own status (available, modifying, incompatible-network, ...)."""
        self._proxy(proxy).status = status

    def fail_to_follow_switchover(self, proxy: str) -> None:
        """At the next switchover the proxy keeps tracking the old blue cluster (`<id>-old1`)."""
        self._proxy(proxy).stays_on_old_cluster = True

    def tracked_clusters(self, proxy: str) -> list[str]:
        """What a person sees as the proxy's cluster target(s), default target group."""
        return list(self._proxy(proxy).target_groups[DEFAULT_TARGET_GROUP].clusters)

    # -- hooks from the Blue/Green simulation ---------------------------------------------------

    def on_switchover(self, cluster_id: str, old_cluster_id: str, at: datetime) -> None:
        """The cluster id now names the green cluster: proxies follow it, after a settling time."""
        for proxy in self._proxies.values():
            for group in proxy.target_groups.values():
                if cluster_id in group.clusters:
                    proxy.settling_until = at + self._settle_span()
                    if proxy.stays_on_old_cluster:
                        proxy.stays_on_old_cluster = False
                        group.clusters = [old_cluster_id if c == cluster_id else c for c in group.clusters]
                if cluster_id in group.instances:  # a DB instance's name now names green
                    proxy.settling_until = at + self._settle_span()
                    if proxy.stays_on_old_cluster:
                        proxy.stays_on_old_cluster = False
                        group.instances = [old_cluster_id if i == cluster_id else i for i in group.instances]

    def source_of_running_deployment(self, cluster_id: str) -> bool:
        blue_green = getattr(self.world, "blue_green", None)
        return bool(blue_green and blue_green.is_active_source(cluster_id))

    # -- the API ----------------------------------------------------------------------------------

    def create_db_proxy(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("DBProxyName", ""))
        if not (0 < len(name) <= 60 and _NAME.fullmatch(name) and not name.endswith("-")):
            raise ApiError("InvalidParameterValue", f"The parameter DBProxyName is not a valid identifier: {name}")
        if name in self._proxies:
            raise ApiError(
                "DBProxyAlreadyExistsFault",
                f"Cannot create the DBProxy because a DBProxy with the name {name} already exists.",
            )
        family = str(params.get("EngineFamily", ""))
        if family not in _PORTS:
            raise ApiError("InvalidParameterValue", f"EngineFamily {family} is not supported")
        proxy = _Proxy(
            name=name,
            engine_family=family,
            arn=f"arn:aws:rds:{self.world.moto.region}:{_ACCOUNT}:db-proxy:prx-{_digest(name)}",
            created=self.world.now(),
            target_groups={DEFAULT_TARGET_GROUP: _TargetGroup(DEFAULT_TARGET_GROUP)},
            tags=list(params.get("Tags") or []),
        )
        self._proxies[name] = proxy
        return {"DBProxy": self._describe(proxy)}

    def describe_db_proxies(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("DBProxyName")
        proxies = [self._proxy(str(name))] if name else list(self._proxies.values())
        return page([self._describe(p) for p in proxies], params, "DBProxies")

    def delete_db_proxy(self, params: dict[str, Any]) -> dict[str, Any]:
        proxy = self._proxy(str(params.get("DBProxyName", "")))
        del self._proxies[proxy.name]
        described = self._describe(proxy)
        described["Status"] = "deleting"
        return {"DBProxy": described}

    def describe_db_proxy_target_groups(self, params: dict[str, Any]) -> dict[str, Any]:
        proxy = self._proxy(str(params.get("DBProxyName", "")))
        wanted = params.get("TargetGroupName")
        rows = []
        for group in proxy.target_groups.values():
            if wanted not in (None, group.name):
                continue
            rows.append(
                {
                    "DBProxyName": proxy.name,
                    "TargetGroupName": group.name,
                    "TargetGroupArn": f"{proxy.arn.replace(':db-proxy:', ':target-group:')}-{group.name}",
                    "IsDefault": group.name == DEFAULT_TARGET_GROUP,
                    "Status": "available",
                    "ConnectionPoolConfig": {"MaxConnectionsPercent": 100, "MaxIdleConnectionsPercent": 50},
                }
            )
        if wanted and not rows:
            raise ApiError("DBProxyTargetGroupNotFoundFault", f"Target group {wanted} not found.", 404)
        return page(rows, params, "TargetGroups")

    def describe_db_proxy_targets(self, params: dict[str, Any]) -> dict[str, Any]:
        proxy = self._proxy(str(params.get("DBProxyName", "")))
        group = self._group(proxy, params.get("TargetGroupName"))
        rows: list[dict[str, Any]] = []
        for cluster_id in group.clusters:
            rows += self._cluster_targets(proxy, cluster_id)
        rows += [self._instance_target(proxy, instance_id) for instance_id in group.instances]
        return page(rows, params, "Targets")

    def register_db_proxy_targets(self, params: dict[str, Any]) -> dict[str, Any]:
        proxy = self._proxy(str(params.get("DBProxyName", "")))
        group = self._group(proxy, params.get("TargetGroupName"))
        clusters = [str(c) for c in params.get("DBClusterIdentifiers") or []]
        instances = [str(i) for i in params.get("DBInstanceIdentifiers") or []]
        if instances:
            return self._register_instances(proxy, group, instances)
        for cluster_id in clusters:
            cluster = self.world.moto.cluster(cluster_id)
            if cluster is None:
                raise cluster_not_found(cluster_id)
            if cluster_id in group.clusters:
                raise ApiError(
                    "DBProxyTargetAlreadyRegisteredFault",
                    f"The proxy is already associated with the target {cluster_id}.",
                )
            if group.clusters:
                raise ApiError(
                    "InvalidParameterValue",
                    f"The target group {group.name} already tracks DB cluster {group.clusters[0]}; "
                    "a target group can track one DB cluster.",
                )
            if _ENGINE_FAMILIES.get(str(cluster["Engine"])) != proxy.engine_family:
                raise ApiError(
                    "InvalidDBClusterStateFault",
                    f"DB cluster {cluster_id} ({cluster['Engine']}) does not match the proxy's engine family "
                    f"{proxy.engine_family}.",
                )
            if self.source_of_running_deployment(cluster_id):
                raise cluster_state(
                    f"DB cluster {cluster_id} is the source of a blue/green deployment; register the proxy target "
                    "before creating the deployment."
                )
        group.clusters += clusters
        proxy.settling_until = self.world.now() + self._settle_span()
        targets = [t for cluster_id in clusters for t in self._cluster_targets(proxy, cluster_id)]
        return {"DBProxyTargets": targets}

    def _register_instances(self, proxy: _Proxy, group: _TargetGroup, instances: list[str]) -> dict[str, Any]:
        for instance_id in instances:
            instance = self.world.moto.instance(instance_id)
            if instance is None:
                raise ApiError("DBInstanceNotFound", f"DBInstance {instance_id} not found.", 404)
            if instance.get("DBClusterIdentifier"):
                raise ApiError(
                    "InvalidParameterCombination", "Aurora DB instances are registered through their DB cluster."
                )
            if instance_id in group.instances:
                raise ApiError(
                    "DBProxyTargetAlreadyRegisteredFault",
                    f"The proxy is already associated with the target {instance_id}.",
                )
            if _ENGINE_FAMILIES.get(str(instance["Engine"])) != proxy.engine_family:
                raise ApiError(
                    "InvalidDBInstanceState",
                    f"DB instance {instance_id} ({instance['Engine']}) does not match the proxy's engine family "
                    f"{proxy.engine_family}.",
                )
            if self.source_of_running_deployment(instance_id):
                raise ApiError(
                    "InvalidDBInstanceState",
                    f"DB instance {instance_id} is the source of a blue/green deployment; register the proxy target "
                    "before creating the deployment.",
                )
        group.instances += instances
        proxy.settling_until = self.world.now() + self._settle_span()
        return {"DBProxyTargets": [self._instance_target(proxy, i) for i in instances]}

    def deregister_db_proxy_targets(self, params: dict[str, Any]) -> dict[str, Any]:
        proxy = self._proxy(str(params.get("DBProxyName", "")))
        group = self._group(proxy, params.get("TargetGroupName"))
        for cluster_id in [str(c) for c in params.get("DBClusterIdentifiers") or []]:
            if cluster_id not in group.clusters:
                raise ApiError("DBProxyTargetNotFoundFault", f"The target {cluster_id} is not registered.", 404)
            group.clusters.remove(cluster_id)
        for instance_id in [str(i) for i in params.get("DBInstanceIdentifiers") or []]:
            if instance_id not in group.instances:
                raise ApiError("DBProxyTargetNotFoundFault", f"The target {instance_id} is not registered.", 404)
            group.instances.remove(instance_id)
        return {}

    # -- shapes -----------------------------------------------------------------------------------

    def _describe(self, proxy: _Proxy) -> dict[str, Any]:
        return {
            "DBProxyName": proxy.name,
            "DBProxyArn": proxy.arn,
            "Status": proxy.status,
            "EngineFamily": proxy.engine_family,
            "VpcId": "vpc-sim",
            "VpcSubnetIds": ["subnet-sim-a", "subnet-sim-b"],
            "RequireTLS": True,
            "IdleClientTimeout": 1800,
            "DebugLogging": False,
            "Endpoint": f"{proxy.name}.proxy-sim.{self.world.moto.region}.rds.amazonaws.com",
            "CreatedDate": proxy.created,
            "UpdatedDate": proxy.created,
        }

    def _cluster_targets(self, proxy: _Proxy, cluster_id: str) -> list[dict[str, Any]]:
        port = _PORTS[proxy.engine_family]
        region = self.world.moto.region
        cluster = self.world.moto.cluster(cluster_id)
        # The TRACKED_CLUSTER target carries no TargetHealth on AWS (only RDS_INSTANCE targets do: AWS
        # workshop output of describe-db-proxy-targets; docs/aws-behaviour.md), whatever the cluster's state.
        rows: list[dict[str, Any]] = [
            {
                "TargetArn": f"arn:aws:rds:{region}:{_ACCOUNT}:cluster:{cluster_id}",
                "Endpoint": f"{cluster_id}.cluster-sim.{region}.rds.amazonaws.com",
                "TrackedClusterId": cluster_id,
                "RdsResourceId": cluster_id,
                "Port": port,
                "Type": "TRACKED_CLUSTER",
            }
        ]
        if cluster is None:
            return rows
        for member in cluster.get("DBClusterMembers") or []:
            instance_id = str(member["DBInstanceIdentifier"])
            rows.append(
                {
                    "TargetArn": f"arn:aws:rds:{region}:{_ACCOUNT}:db:{instance_id}",
                    "Endpoint": f"{instance_id}.sim.{region}.rds.amazonaws.com",
                    "TrackedClusterId": cluster_id,
                    "RdsResourceId": instance_id,
                    "Port": port,
                    "Type": "RDS_INSTANCE",
                    "Role": "READ_WRITE" if member.get("IsClusterWriter") else "READ_ONLY",
                    "TargetHealth": self._instance_health(proxy, instance_id),
                }
            )
        return rows

    def _instance_target(self, proxy: _Proxy, instance_id: str) -> dict[str, Any]:
        region = self.world.moto.region
        return {
            "TargetArn": f"arn:aws:rds:{region}:{_ACCOUNT}:db:{instance_id}",
            "Endpoint": f"{instance_id}.sim.{region}.rds.amazonaws.com",
            "RdsResourceId": instance_id,
            "Port": _PORTS[proxy.engine_family],
            "Type": "RDS_INSTANCE",
            "Role": "READ_WRITE",
            "TargetHealth": self._instance_health(proxy, instance_id),
        }

    def _instance_health(self, proxy: _Proxy, instance_id: str) -> dict[str, str]:
        if proxy.forced_health is not None:
            state, reason, description = proxy.forced_health
            health = {"State": state}
            if reason:
                health["Reason"] = reason
            if description:
                health["Description"] = description
            return health
        if proxy.settling_until is not None and self.world.now() < proxy.settling_until:
            return {"State": "REGISTERING"}
        status = self.world.instance_status(instance_id)
        if status != "available":
            return {
                "State": "UNAVAILABLE",
                "Reason": "CONNECTION_FAILED",
                "Description": f"DB instance {instance_id} is {status}",
            }
        return {"State": "AVAILABLE"}

    def _settle_span(self) -> timedelta:
        return timedelta(seconds=self.settle_seconds * self.world.timeline.time_scale)

    def _proxy(self, name: str) -> _Proxy:
        proxy = self._proxies.get(name)
        if proxy is None:
            raise _not_found(name)
        return proxy

    def _group(self, proxy: _Proxy, name: Any) -> _TargetGroup:
        group = proxy.target_groups.get(str(name or DEFAULT_TARGET_GROUP))
        if group is None:
            raise ApiError("DBProxyTargetGroupNotFoundFault", f"Target group {name} not found.", 404)
        return group


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:17]
