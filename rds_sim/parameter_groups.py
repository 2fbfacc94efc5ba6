"""Parameter groups as Aurora and RDS have them: families, engine defaults, `Source`, static parameters.

moto stores parameter groups and the values set on them, but it has no default groups to list
(`default.aurora-postgresql16` is accepted by CreateDBInstance yet not found by Describe), no
engine defaults, no `Source` (`user` vs `engine-default`), no refusal of unknown parameters or of
`immediate` on a static one, no 20-parameter limit per call, and it deletes a group still in use.
An engine that copies "the parameters a person set" to a new family needs all of that, so this
module answers the parameter-group calls over moto's stored values:

* every family of the catalogue has its `default.<family>` cluster and instance groups;
* `Describe*Parameters` lists the family's parameters with their `Source`, filtered by `Source`;
* `Modify*ParameterGroup` refuses default groups, unknown names, more than 20 parameters and
  `immediate` on a static parameter; a static change marks every member using the group
  `pending-reboot` (it turns `in-sync` at the member's next reboot, see `world`);
* `Delete*ParameterGroup` refuses default groups and groups still in use;
* a group created or modified through the API less than 5 minutes ago is *young*: AWS asks to wait
  at least 5 minutes before a cluster or instance uses it (CreateDBClusterParameterGroup,
  ModifyDBClusterParameterGroup, CreateDBParameterGroup, ModifyDBParameterGroup API references) and
  does not say what happens otherwise; the harsher plausible answer, modelled by the Blue/Green
  simulation, is that the green environment silently ignores the young group (gets the family's
  default group instead). Groups seeded by a test (`use_custom_groups`) are old.

The parameter tables are small on purpose: the handful of parameters Blue/Green and the tests
care about, with the real names, defaults and apply types. One parameter exists in PostgreSQL 15
and not in 16 (`vacuum_defer_cleanup_age`, removed in PostgreSQL 16), so a copy across majors
meets a parameter the new family does not have, as it does in AWS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from rds_sim.catalogue import AURORA_MYSQL, AURORA_POSTGRESQL, MARIADB, MYSQL, POSTGRES, version_key
from rds_sim.errors import ApiError
from rds_sim.paging import page
from rds_sim.world_protocol import Kind, World

KINDS: tuple[Kind, ...] = ("cluster", "instance")
MAX_PARAMETERS_PER_MODIFY = 20
SETTLE = timedelta(minutes=5)  # AWS: wait at least 5 minutes after creating or modifying a group before use
PENDING_REBOOT = "pending-reboot"
_GROUP_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9.]|-(?!-))*")


@dataclass(frozen=True)
class ParameterSpec:
    default: str
    apply_type: Literal["static", "dynamic"]
    data_type: str
    allowed: str
    description: str
    # (first major, last major) the parameter exists in, None: no bound
    since: int | None = None
    until: int | None = None


_PG_CLUSTER: Mapping[str, ParameterSpec] = {
    "rds.logical_replication": ParameterSpec(
        "0", "static", "boolean", "0,1", "Enables logical decoding (needed by Blue/Green deployments)."
    ),
    "max_replication_slots": ParameterSpec(
        "20", "static", "integer", "5-8388607", "Sets the maximum replication slots."
    ),
    "max_wal_senders": ParameterSpec("20", "static", "integer", "5-8388607", "Sets the maximum WAL sender processes."),
    "max_logical_replication_workers": ParameterSpec(
        "4", "static", "integer", "0-262143", "Maximum number of logical replication worker processes."
    ),
    "max_worker_processes": ParameterSpec("8", "static", "integer", "8-262143", "Maximum concurrent worker processes."),
    "rds.logically_replicate_unlogged_tables": ParameterSpec(
        "0", "dynamic", "boolean", "0,1", "Replicate unlogged tables through logical replication.", since=14
    ),
    "timezone": ParameterSpec("UTC", "dynamic", "string", "", "Sets the time zone for timestamps."),
    "log_statement": ParameterSpec("none", "dynamic", "string", "ddl,mod,all,none", "Sets the statements logged."),
    "vacuum_defer_cleanup_age": ParameterSpec(
        "0", "dynamic", "integer", "0-1000000", "Transactions by which VACUUM cleanup is deferred.", until=15
    ),
}
_PG_INSTANCE: Mapping[str, ParameterSpec] = {
    "shared_preload_libraries": ParameterSpec(
        "pg_stat_statements", "static", "list", "", "Lists shared libraries to preload into server."
    ),
    "log_min_duration_statement": ParameterSpec(
        "-1", "dynamic", "integer", "-1-2147483647", "Minimum execution time (ms) above which statements are logged."
    ),
    "work_mem": ParameterSpec("4096", "dynamic", "integer", "64-2147483647", "Memory (kB) for internal sorts."),
    "random_page_cost": ParameterSpec("4", "dynamic", "real", "0-1.79769e+308", "Cost of a random page fetch."),
}
_MYSQL_CLUSTER: Mapping[str, ParameterSpec] = {
    "binlog_format": ParameterSpec(
        "OFF", "static", "string", "ROW,STATEMENT,MIXED,OFF", "Binary logging format (Blue/Green needs it on)."
    ),
    "binlog_row_image": ParameterSpec("full", "dynamic", "string", "full,minimal,noblob", "Row image logged."),
    "time_zone": ParameterSpec("UTC", "dynamic", "string", "", "The server time zone."),
    "character_set_server": ParameterSpec("latin1", "dynamic", "string", "", "The server's default character set."),
    "event_scheduler": ParameterSpec("OFF", "dynamic", "string", "ON,OFF", "Enable the event scheduler."),
}
_MYSQL_INSTANCE: Mapping[str, ParameterSpec] = {
    "long_query_time": ParameterSpec("10", "dynamic", "float", "0-31536000", "Slow query threshold (seconds)."),
    "slow_query_log": ParameterSpec("0", "dynamic", "boolean", "0,1", "Enable the slow query log."),
    "max_connections": ParameterSpec(
        "{DBInstanceClassMemory/12582880}", "dynamic", "integer", "1-16000", "Maximum simultaneous connections."
    ),
}
# RDS for PostgreSQL, MySQL and MariaDB (DB instances of their own, Multi-AZ DB clusters): one group holds
# what Aurora splits between cluster and instance groups. `rds.logical_replication` (static, default 0) must
# be 1 in the source's DB parameter group for a Blue/Green major upgrade, which replicates logically (RDS
# user guide, "Preparing an RDS for PostgreSQL DB instance for a blue/green deployment"). MySQL and MariaDB
# log binary changes once automated backups are on; `binlog_format` defaults to MIXED there and has no OFF
# (RDS user guide, "Configuring RDS for MySQL binary logging"); `event_scheduler` must be OFF on green
# (Blue/Green limitations).
_RDS_PG: Mapping[str, ParameterSpec] = {**_PG_CLUSTER, **_PG_INSTANCE}
_RDS_MYSQL: Mapping[str, ParameterSpec] = {
    **_MYSQL_CLUSTER,
    "binlog_format": ParameterSpec(
        "MIXED", "dynamic", "string", "ROW,STATEMENT,MIXED", "Binary logging format (on once backups are on)."
    ),
    **_MYSQL_INSTANCE,
    "read_only": ParameterSpec("{TrueIfReplica}", "dynamic", "boolean", "0,1", "Read-only mode (green reads 1)."),
}
_TABLES: Mapping[tuple[str, Kind], Mapping[str, ParameterSpec]] = {
    (AURORA_POSTGRESQL, "cluster"): _PG_CLUSTER,
    (AURORA_POSTGRESQL, "instance"): _PG_INSTANCE,
    (AURORA_MYSQL, "cluster"): _MYSQL_CLUSTER,
    (AURORA_MYSQL, "instance"): _MYSQL_INSTANCE,
    (POSTGRES, "instance"): _RDS_PG,
    (POSTGRES, "cluster"): _RDS_PG,  # Multi-AZ DB clusters use DB cluster parameter groups of these families
    (MYSQL, "instance"): _RDS_MYSQL,
    (MYSQL, "cluster"): _RDS_MYSQL,
    (MARIADB, "instance"): _RDS_MYSQL,
    (MARIADB, "cluster"): _RDS_MYSQL,
}


def split_family(family: str) -> tuple[str, str]:
    """aurora-postgresql16 -> (aurora-postgresql, 16); aurora-mysql8.0 -> (aurora-mysql, 8.0); postgres16,
    mysql8.4, mariadb10.11 likewise (Aurora names first: they are longer and none is a prefix of another)."""
    for engine in (AURORA_POSTGRESQL, AURORA_MYSQL, POSTGRES, MYSQL, MARIADB):
        if family.startswith(engine):
            return engine, family[len(engine) :]
    return family, ""


def family_parameters(family: str, kind: Kind) -> dict[str, ParameterSpec]:
    """The parameters a group of this family has (empty for a family the simulator does not know)."""
    engine, major = split_family(family)
    table = _TABLES.get((engine, kind), {})
    number = version_key(major)[0] if major else 0
    return {
        name: spec
        for name, spec in table.items()
        if (spec.since is None or number >= spec.since) and (spec.until is None or number <= spec.until)
    }


def is_default_group(name: str) -> bool:
    return name.startswith("default.")


def _not_found(kind: Kind, name: str) -> ApiError:
    label = "DBClusterParameterGroup" if kind == "cluster" else "DB Parameter Group"
    return ApiError("DBParameterGroupNotFound", f"{label} not found: {name}", 404)


class ParameterGroupSim:
    """The parameter-group calls of one simulated region (`sim.parameter_groups`)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._defaults_made = False
        self._changed_at: dict[tuple[Kind, str], datetime] = {}  # created or modified through the API

    def is_young(self, kind: Kind, name: str) -> bool:
        """Created or modified through the API less than 5 minutes ago (AWS asks to wait that long)."""
        changed = self._changed_at.get((kind, name))
        return changed is not None and self.world.now() - changed < SETTLE

    def handlers(self) -> dict[str, Any]:
        return {
            "DescribeDBClusterParameterGroups": lambda p: self.describe_groups("cluster", p),
            "DescribeDBParameterGroups": lambda p: self.describe_groups("instance", p),
            "DescribeDBClusterParameters": lambda p: self.describe_parameters("cluster", p),
            "DescribeDBParameters": lambda p: self.describe_parameters("instance", p),
            "CreateDBClusterParameterGroup": lambda p: self.create_group("cluster", p),
            "CreateDBParameterGroup": lambda p: self.create_group("instance", p),
            "ModifyDBClusterParameterGroup": lambda p: self.modify_group("cluster", p),
            "ModifyDBParameterGroup": lambda p: self.modify_group("instance", p),
            "DeleteDBClusterParameterGroup": lambda p: self.delete_group("cluster", p),
            "DeleteDBParameterGroup": lambda p: self.delete_group("instance", p),
        }

    # -- the default groups ------------------------------------------------------------------

    def ensure_defaults(self) -> None:
        """`default.<family>` cluster and instance groups for every family of the catalogue."""
        if self._defaults_made:
            return
        self._defaults_made = True
        catalogue = self.world.catalogue
        families = {catalogue.family(e, v) for e in catalogue.engines() for v in catalogue.versions(e)}
        for family in sorted(families):
            for kind in KINDS:
                name = f"default.{family}"
                if self.group(kind, name) is None:
                    self._moto_create(kind, name, family, f"Default {kind} parameter group for {family}")

    # -- reading moto ---------------------------------------------------------------------------

    def group(self, kind: Kind, name: str) -> dict[str, Any] | None:
        try:
            if kind == "cluster":
                found = self.world.moto.call("DescribeDBClusterParameterGroups", {"DBClusterParameterGroupName": name})
                rows = found.get("DBClusterParameterGroups", [])
            else:
                found = self.world.moto.call("DescribeDBParameterGroups", {"DBParameterGroupName": name})
                rows = found.get("DBParameterGroups", [])
        except ClientError:
            return None
        return dict(rows[0]) if rows else None

    def user_values(self, kind: Kind, name: str) -> dict[str, dict[str, Any]]:
        """What a person set on the group (moto keeps only those), by parameter name."""
        if kind == "cluster":
            rows = self.world.moto.call("DescribeDBClusterParameters", {"DBClusterParameterGroupName": name})
        else:
            rows = self.world.moto.call("DescribeDBParameters", {"DBParameterGroupName": name})
        return {str(p["ParameterName"]): dict(p) for p in rows.get("Parameters", []) if "ParameterValue" in p}

    def value(self, kind: Kind, name: str, parameter: str) -> str | None:
        """The effective value of one parameter of a group (user value, else the family default)."""
        group = self.group(kind, name)
        if group is None:
            return None
        user = self.user_values(kind, name).get(parameter)
        if user is not None:
            return str(user.get("ParameterValue"))
        spec = family_parameters(str(group["DBParameterGroupFamily"]), kind).get(parameter)
        return spec.default if spec else None

    def _moto_create(self, kind: Kind, name: str, family: str, description: str, tags: Any = None) -> None:
        params: dict[str, Any] = {"DBParameterGroupFamily": family, "Description": description}
        if tags:
            params["Tags"] = tags
        if kind == "cluster":
            self.world.moto.call("CreateDBClusterParameterGroup", {"DBClusterParameterGroupName": name, **params})
        else:
            self.world.moto.call("CreateDBParameterGroup", {"DBParameterGroupName": name, **params})

    # -- the API ----------------------------------------------------------------------------------

    def describe_groups(self, kind: Kind, params: dict[str, Any]) -> dict[str, Any]:
        self.ensure_defaults()
        key = "DBClusterParameterGroupName" if kind == "cluster" else "DBParameterGroupName"
        rows_key = "DBClusterParameterGroups" if kind == "cluster" else "DBParameterGroups"
        name = params.get(key)
        if name:
            group = self.group(kind, str(name))
            if group is None:
                raise _not_found(kind, str(name))
            rows = [group]
        else:
            operation = "DescribeDBClusterParameterGroups" if kind == "cluster" else "DescribeDBParameterGroups"
            rows = [dict(g) for g in self.world.moto.call(operation, {}).get(rows_key, [])]
        return page(rows, params, rows_key)

    def describe_parameters(self, kind: Kind, params: dict[str, Any]) -> dict[str, Any]:
        self.ensure_defaults()
        name = str(params.get("DBClusterParameterGroupName" if kind == "cluster" else "DBParameterGroupName", ""))
        group = self.group(kind, name)
        if group is None:
            raise _not_found(kind, name)
        family = str(group["DBParameterGroupFamily"])
        specs = family_parameters(family, kind)
        user = self.user_values(kind, name)
        rows = []
        for parameter in sorted(set(specs) | set(user)):
            spec = specs.get(parameter)
            set_by_user = user.get(parameter)
            row: dict[str, Any] = {
                "ParameterName": parameter,
                "ParameterValue": str(set_by_user["ParameterValue"]) if set_by_user else (spec.default if spec else ""),
                "Description": spec.description if spec else "",
                "Source": "user" if set_by_user else "engine-default",
                "ApplyType": spec.apply_type if spec else "dynamic",
                "DataType": spec.data_type if spec else "string",
                "AllowedValues": spec.allowed if spec else "",
                "IsModifiable": True,
                "ApplyMethod": str(set_by_user.get("ApplyMethod", "pending-reboot"))
                if set_by_user
                else "pending-reboot",
            }
            if kind == "cluster":
                row["SupportedEngineModes"] = ["provisioned"]
            rows.append(row)
        source = params.get("Source")
        if source:
            rows = [r for r in rows if r["Source"] == source]
        return page(rows, params, "Parameters")

    def create_group(self, kind: Kind, params: dict[str, Any]) -> dict[str, Any]:
        self.ensure_defaults()
        key = "DBClusterParameterGroupName" if kind == "cluster" else "DBParameterGroupName"
        name = str(params.get(key, ""))
        if not (0 < len(name) <= 255 and _GROUP_NAME.fullmatch(name) and not name.endswith("-")):
            raise ApiError(
                "InvalidParameterValue",
                f"The parameter {key} is not a valid identifier. Identifiers must begin with a letter; must "
                "contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two "
                "consecutive hyphens.",
            )
        if is_default_group(name):
            raise ApiError("InvalidParameterValue", f"The parameter group name {name} is reserved for defaults.")
        family = str(params.get("DBParameterGroupFamily", ""))
        if not family_parameters(family, kind):
            raise ApiError("InvalidParameterValue", f"DBParameterGroupFamily {family} is not a valid family.")
        if self.group(kind, name) is not None:
            label = "DB Cluster Parameter Group" if kind == "cluster" else "Parameter group"
            raise ApiError("DBParameterGroupAlreadyExists", f"{label} {name} already exists")
        self._moto_create(kind, name, family, str(params.get("Description", "")), params.get("Tags"))
        self._changed_at[(kind, name)] = self.world.now()
        created = self.group(kind, name) or {}
        return {"DBClusterParameterGroup" if kind == "cluster" else "DBParameterGroup": created}

    def modify_group(self, kind: Kind, params: dict[str, Any]) -> dict[str, Any]:
        self.ensure_defaults()
        key = "DBClusterParameterGroupName" if kind == "cluster" else "DBParameterGroupName"
        name = str(params.get(key, ""))
        group = self.group(kind, name)
        if group is None:
            raise _not_found(kind, name)
        if is_default_group(name):
            raise ApiError("InvalidParameterValue", f"Default parameter groups cannot be modified: {name}")
        changes = list(params.get("Parameters") or [])
        if not changes:
            raise ApiError("InvalidParameterValue", "At least one parameter must be specified.")
        if len(changes) > MAX_PARAMETERS_PER_MODIFY:
            raise ApiError(
                "InvalidParameterValue",
                f"You can modify up to {MAX_PARAMETERS_PER_MODIFY} parameters in a single request "
                f"({len(changes)} given).",
            )
        specs = family_parameters(str(group["DBParameterGroupFamily"]), kind)
        static_changed = False
        for change in changes:
            parameter = str(change.get("ParameterName", ""))
            spec = specs.get(parameter)
            if spec is None:
                raise ApiError("InvalidParameterValue", f"Could not find parameter with name: {parameter}")
            method = change.get("ApplyMethod")
            if method not in ("immediate", "pending-reboot"):
                raise ApiError(
                    "InvalidParameterValue", f"ApplyMethod for {parameter} must be immediate or pending-reboot"
                )
            if spec.apply_type == "static" and method == "immediate":
                raise ApiError(
                    "InvalidParameterCombination", f"cannot use immediate apply method for static parameter {parameter}"
                )
            static_changed = static_changed or spec.apply_type == "static"
        operation = "ModifyDBClusterParameterGroup" if kind == "cluster" else "ModifyDBParameterGroup"
        self.world.moto.call(operation, {key: name, "Parameters": changes})
        self._changed_at[(kind, name)] = self.world.now()
        if static_changed:
            for instance_id in self.members_using(kind, name):
                self.world.set_parameter_apply_status(instance_id, PENDING_REBOOT)
        return {key: name}

    def delete_group(self, kind: Kind, params: dict[str, Any]) -> dict[str, Any]:
        self.ensure_defaults()
        key = "DBClusterParameterGroupName" if kind == "cluster" else "DBParameterGroupName"
        name = str(params.get(key, ""))
        if self.group(kind, name) is None:
            raise _not_found(kind, name)
        if is_default_group(name):
            raise ApiError("InvalidDBParameterGroupState", f"Default parameter group {name} cannot be deleted.")
        if self.in_use(kind, name):
            raise ApiError(
                "InvalidDBParameterGroupState",
                f"One or more database instances are still members of this parameter group {name}, so the group "
                "cannot be deleted",
            )
        operation = "DeleteDBClusterParameterGroup" if kind == "cluster" else "DeleteDBParameterGroup"
        self.world.moto.call(operation, {key: name})
        self._changed_at.pop((kind, name), None)
        return {}

    # -- who uses a group ---------------------------------------------------------------------

    def members_using(self, kind: Kind, name: str) -> list[str]:
        """Instance ids whose cluster (kind cluster) or own (kind instance) parameter group is `name`."""
        found: list[str] = []
        if kind == "cluster":
            for cluster in self.world.moto.call("DescribeDBClusters", {}).get("DBClusters", []):
                if cluster.get("DBClusterParameterGroup") == name:
                    found += [str(m["DBInstanceIdentifier"]) for m in cluster.get("DBClusterMembers", [])]
            return found
        for instance in self.world.moto.call("DescribeDBInstances", {}).get("DBInstances", []):
            groups = instance.get("DBParameterGroups") or []
            if any(g.get("DBParameterGroupName") == name for g in groups):
                found.append(str(instance["DBInstanceIdentifier"]))
        return found

    def in_use(self, kind: Kind, name: str) -> bool:
        if kind == "cluster":
            clusters = self.world.moto.call("DescribeDBClusters", {}).get("DBClusters", [])
            return any(c.get("DBClusterParameterGroup") == name for c in clusters)
        return bool(self.members_using(kind, name))

    # -- setting the scene (tests, demo) --------------------------------------------------------

    def use_custom_groups(
        self,
        cluster_id: str,
        *,
        cluster_parameters: Mapping[str, str] | None = None,
        instance_parameters: Mapping[str, str] | None = None,
        cluster_group: str | None = None,
        instance_group: str | None = None,
    ) -> tuple[str, str | None]:
        """Give a cluster custom groups of its family with these values, already applied (in sync).

        Returns (cluster group, instance group or None when no instance parameters are given).
        A person does this once, then reboots; the members read `in-sync` here as after that reboot.
        """
        self.ensure_defaults()
        cluster = self.world.moto.cluster(cluster_id)
        if cluster is None:
            raise KeyError(f"no cluster {cluster_id!r}")
        family = self.world.catalogue.family(str(cluster["Engine"]), str(cluster["EngineVersion"]))
        cluster_group = cluster_group or f"{cluster_id}-{family.replace('.', '-')}-cluster"
        self._seed_group("cluster", cluster_group, family, cluster_parameters or {})
        self.world.moto.call(
            "ModifyDBCluster",
            {"DBClusterIdentifier": cluster_id, "DBClusterParameterGroupName": cluster_group, "ApplyImmediately": True},
        )
        members = [str(m["DBInstanceIdentifier"]) for m in cluster.get("DBClusterMembers", [])]
        if instance_parameters is not None:
            instance_group = instance_group or f"{cluster_id}-{family.replace('.', '-')}-instance"
            self._seed_group("instance", instance_group, family, instance_parameters)
            for instance_id in members:
                self.world.moto.call(
                    "ModifyDBInstance",
                    {
                        "DBInstanceIdentifier": instance_id,
                        "DBParameterGroupName": instance_group,
                        "ApplyImmediately": True,
                    },
                )
        else:
            instance_group = None
        for instance_id in members:
            self.world.set_parameter_apply_status(instance_id, "in-sync")
        return cluster_group, instance_group

    def use_custom_instance_group(
        self,
        instance_id: str,
        parameters: Mapping[str, str] | None = None,
        *,
        group: str | None = None,
        apply_status: str = "in-sync",
    ) -> str:
        """Give an RDS DB instance of its own a custom DB parameter group of its family with these values.

        `apply_status` "in-sync" reads as after the reboot a person does for a static parameter such as
        `rds.logical_replication`; "pending-reboot" as before it. Returns the group's name.
        """
        self.ensure_defaults()
        instance = self.world.moto.instance(instance_id)
        if instance is None:
            raise KeyError(f"no instance {instance_id!r}")
        family = self.world.catalogue.family(str(instance["Engine"]), str(instance["EngineVersion"]))
        group = group or f"{instance_id}-{family.replace('.', '-')}"
        self._seed_group("instance", group, family, parameters or {})
        self.world.moto.call(
            "ModifyDBInstance",
            {"DBInstanceIdentifier": instance_id, "DBParameterGroupName": group, "ApplyImmediately": True},
        )
        self.world.set_parameter_apply_status(instance_id, apply_status)
        return group

    def _seed_group(self, kind: Kind, name: str, family: str, values: Mapping[str, str]) -> None:
        specs = family_parameters(family, kind)
        unknown = sorted(set(values) - set(specs))
        if unknown:
            raise ValueError(f"{family} {kind} groups have no parameter {', '.join(unknown)}")
        if self.group(kind, name) is None:
            self._moto_create(kind, name, family, f"Custom {kind} parameters")
        if values:
            changes = [
                {"ParameterName": k, "ParameterValue": v, "ApplyMethod": "pending-reboot"} for k, v in values.items()
            ]
            operation = "ModifyDBClusterParameterGroup" if kind == "cluster" else "ModifyDBParameterGroup"
            key = "DBClusterParameterGroupName" if kind == "cluster" else "DBParameterGroupName"
            self.world.moto.call(operation, {key: name, "Parameters": changes})
