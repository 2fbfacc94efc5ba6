"""Read-only checks before a plan on an RDS DB instance: class change, reboot, in-place upgrade.

Each refuses with BadInput before anything is written: first what the request and the snapshot show on
their own (the plan module's `check_*_request`), then what AWS answers (DescribeOrderableDBInstanceOptions,
DescribeDBEngineVersions, DescribeDBParameterGroups). The facts carry the expected durations the plan states.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rds_maint.actions.polling import EXPECTED_SECONDS, class_factor
from rds_maint.errors import BadInput
from rds_maint.model import (
    EngineUpgradeParams,
    InstanceCycleParams,
    InstanceTypeChangeParams,
    OperationParams,
    OperationType,
)
from rds_maint.plans.db_instance_class import DbInstanceClassFacts, check_class_request
from rds_maint.plans.db_instance_cycle import DbInstanceRebootFacts, check_reboot_request
from rds_maint.plans.db_instance_in_place_upgrade import DbInstanceUpgradeFacts, check_in_place_request
from rds_maint.ports import RdsPort
from rds_maint.snapshots import InstanceSnapshot

__all__ = ["preflight_db_instance"]


def _class_change(rds: RdsPort, instance: InstanceSnapshot, params: InstanceTypeChangeParams) -> DbInstanceClassFacts:
    target = params.target_instance_type
    expected = EXPECTED_SECONDS["instance_class"] * max(class_factor(target), class_factor(instance.instance_class))
    check_class_request(instance, params, expected)
    where = f"{instance.engine} {instance.engine_version}"
    check = (
        f"aws rds describe-orderable-db-instance-options --engine {instance.engine} --engine-version "
        f"{instance.engine_version} --db-instance-class {target}"
    )
    if not rds.is_orderable(instance.engine, instance.engine_version, target):
        raise BadInput(f"target_instance_type {target} is not orderable for {where} in this region ({check})")
    if instance.multi_az:
        rows = rds.orderable_options(instance.engine, instance.engine_version, target)
        if not any(row.get("MultiAZCapable") for row in rows):
            raise BadInput(
                f"target_instance_type {target} is not offered Multi-AZ for {where} in this region, and DB instance "
                f"'{instance.id}' is Multi-AZ ({check} --query 'OrderableDBInstanceOptions[].MultiAZCapable')"
            )
    return DbInstanceClassFacts(expected_seconds=expected)


def _reboot(rds: RdsPort, instance: InstanceSnapshot, params: InstanceCycleParams) -> DbInstanceRebootFacts:
    expected = EXPECTED_SECONDS["instance_reboot"]
    check_reboot_request(instance, params, expected)
    return DbInstanceRebootFacts(expected_seconds=expected)


def _targets(info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(t.get("EngineVersion")): dict(t) for t in info.get("ValidUpgradeTarget") or []}


def _in_place_upgrade(rds: RdsPort, instance: InstanceSnapshot, params: EngineUpgradeParams) -> DbInstanceUpgradeFacts:
    check_in_place_request(instance, params)
    target = params.target_engine_version
    engine = instance.engine
    current = rds.engine_version(engine, instance.engine_version)
    if current is None:
        raise BadInput(
            f"AWS does not list {engine} {instance.engine_version}, the version of DB instance '{instance.id}' (aws "
            f"rds describe-db-engine-versions --engine {engine} --engine-version {instance.engine_version})"
        )
    targets = _targets(current)
    if target not in targets:
        valid = ", ".join(sorted(targets)) or "none"
        raise BadInput(
            f"{engine} {target} is not a valid upgrade target of {instance.engine_version} for DB instance "
            f"'{instance.id}' (valid targets: {valid}; aws rds describe-db-engine-versions --engine {engine} "
            f"--engine-version {instance.engine_version} --query 'DBEngineVersions[0].ValidUpgradeTarget')"
        )
    major = bool(targets[target].get("IsMajorVersionUpgrade"))
    target_info = rds.engine_version(engine, target) or {}
    family = target_info.get("DBParameterGroupFamily")
    family = str(family) if family else None
    group = params.db_instance_parameter_group_name
    custom = bool(instance.parameter_group) and not str(instance.parameter_group).startswith("default.")
    if group is None and major and custom:
        raise BadInput(
            f"a major upgrade of DB instance '{instance.id}' to {engine} {target} needs a DB parameter group of family "
            f"{family or 'of the new version'}: it uses the custom group {instance.parameter_group}, which cannot "
            "follow it. Create one with your settings (aws rds create-db-parameter-group --db-parameter-group-name "
            f"NAME --db-parameter-group-family {family or 'FAMILY'} --description ...) and pass "
            "db_instance_parameter_group_name=NAME"
        )
    if group is not None:
        found = rds.parameter_group("instance", group)
        if found is None:
            raise BadInput(
                f"db_instance_parameter_group_name {group} does not exist (aws rds describe-db-parameter-groups "
                f"--db-parameter-group-name {group})"
            )
        got = found.get("DBParameterGroupFamily")
        if family and got != family:
            raise BadInput(
                f"db_instance_parameter_group_name {group} is of family {got}, but {engine} {target} takes family "
                f"{family}; give a group of family {family}"
            )
    replicas = _replicas_first(rds, instance, target)
    return DbInstanceUpgradeFacts(
        replicas=replicas,
        major=major,
        parameter_group=group,
        target_family=family,
        expected_seconds=EXPECTED_SECONDS["instance_upgrade"],
    )


def _replicas_first(rds: RdsPort, instance: InstanceSnapshot, target: str) -> tuple[str, ...]:
    """MySQL and MariaDB: "you must upgrade all of the read replicas before upgrading the source instance" (RDS
    user guide, "Upgrades of the MariaDB DB engine", and the MySQL major version upgrade page). PostgreSQL
    upgrades its in-Region replicas with the source ("Upgrades of the RDS for PostgreSQL DB engine"; "Choosing a
    major version for an RDS for PostgreSQL upgrade"): they are named so the plan says they are down too."""
    if not instance.read_replica_ids:
        return ()
    if instance.engine.startswith(("mysql", "mariadb")):
        behind = []
        for replica_id in instance.read_replica_ids:
            replica = rds.find_instance(replica_id)
            if replica is not None and replica.engine_version != target:
                behind.append(f"{replica_id} ({replica.engine_version})")
        if behind:
            raise BadInput(
                f"DB instance '{instance.id}' has read replicas not yet on {instance.engine} {target}: "
                f"{', '.join(behind)}. RDS needs the replicas upgraded before their source: upgrade each first "
                f"(engine_upgrade with instance_id=REPLICA, method in_place, target_engine_version {target}), then "
                f"'{instance.id}'"
            )
    return tuple(instance.read_replica_ids)


def preflight_db_instance(
    op_type: OperationType, rds: RdsPort, instance: InstanceSnapshot, params: OperationParams, now: datetime
) -> object:
    """The facts the DB instance plan of `op_type` takes (storage and Blue/Green are checked elsewhere)."""
    if isinstance(params, InstanceTypeChangeParams):
        return _class_change(rds, instance, params)
    if isinstance(params, InstanceCycleParams):
        return _reboot(rds, instance, params)
    if isinstance(params, EngineUpgradeParams) and params.method == "in_place":
        return _in_place_upgrade(rds, instance, params)
    raise BadInput(f"{op_type.value} is not available for a DB instance yet")
