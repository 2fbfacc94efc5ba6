"""Read-only checks before a Blue/Green engine upgrade of an RDS DB instance (MySQL, MariaDB, PostgreSQL).

Read-only calls only (DescribeDBEngineVersions, DescribeDBInstances of the replicas, DescribeBlue-
GreenDeployments, DescribeOrderableDBInstanceOptions, Describe(DB)Parameters, DescribeDBProxies/Targets).
Each refusal is a `BadInput` naming what to change. Sources (docs/aws-behaviour.md, "Blue/Green for DB
instances", and the AWS user guide pages named in each check): what passes becomes
`DbInstanceBlueGreenFacts`.

The Target* storage checks are this module's own (`check_green_storage`), kept apart from the DB
instance storage operation's so that the two can be unified later.
"""

from __future__ import annotations

from datetime import datetime

from rds_maint.actions.instance_blue_green_common import proxies_of_instance
from rds_maint.errors import AwsError, BadInput
from rds_maint.model import EngineUpgradeParams
from rds_maint.planning.upgrade_preflight import BLUE_GREEN_MINIMUM, plan_parameter_group, version_key
from rds_maint.plans.db_instance_upgrade import DbInstanceBlueGreenFacts
from rds_maint.plans.engine_upgrade import ProxyFound
from rds_maint.ports import RdsPort
from rds_maint.snapshots import InstanceSnapshot
from rds_maint.steps.instance_blue_green import TargetSettingValue

__all__ = [
    "BLUE_GREEN_ENGINES",
    "GREEN_STORAGE_TYPES",
    "check_green_storage",
    "preflight_db_instance_blue_green",
]

# "Blue/green deployments are not supported with RDS for Db2, SQL Server, Oracle" (Supported Regions and DB
# engines for Amazon RDS Blue/Green Deployments); rds-maint plans these three.
BLUE_GREEN_ENGINES = ("mysql", "mariadb", "postgres")
# CreateBlueGreenDeployment TargetStorageType: "Valid Values: gp2 | gp3 | io1 | io2" (botocore model)
GREEN_STORAGE_TYPES = ("gp2", "gp3", "io1", "io2")
# gp3 under this size has a fixed baseline: IOPS and throughput cannot be set (MySQL, MariaDB, PostgreSQL;
# Amazon RDS DB instance storage, gp3; terraform-provider-aws#28589)
GP3_BASELINE_GIB = 400
# The smallest allocated storage per type (Amazon RDS DB instance storage: 20 GiB gp2/gp3, 100 GiB io1/io2)
MIN_STORAGE_GIB = {"gp2": 20, "gp3": 20, "io1": 100, "io2": 100}


def preflight_db_instance_blue_green(
    rds: RdsPort, instance: InstanceSnapshot, params: EngineUpgradeParams, now: datetime
) -> DbInstanceBlueGreenFacts:
    """`now` is not read: every check here is of AWS's state, none of a time."""
    _check_engine(instance)
    if params.db_cluster_parameter_group_name:
        raise BadInput(
            f"db_cluster_parameter_group_name is for clusters; {instance.id} is a DB instance: leave it out "
            "(db_instance_parameter_group_name names the green instance's DB parameter group)"
        )
    target = params.target_engine_version
    info, target_info, major = _check_versions(rds, instance, target)
    _check_source_limits(rds, instance, major)
    _check_replication_prerequisites(rds, instance, major)
    _check_no_deployment(rds, instance)
    settings = _target_settings(rds, instance, params)
    target_family = str(target_info.get("DBParameterGroupFamily") or "")
    group = plan_parameter_group(
        rds,
        "instance",
        params.db_instance_parameter_group_name,
        {instance.parameter_group or ""},
        instance.id,
        target,
        target_family,
        major,
    )
    notes: list[str] = []
    proxies: tuple[ProxyFound, ...] = ()
    if not params.skip_proxy_retarget:
        try:
            proxies = tuple(ProxyFound(p.name, p.status) for p in proxies_of_instance(rds, instance.id))
        except AwsError as exc:
            notes.append(
                f"Warning: could not list RDS Proxies ({exc.code}: {exc.aws_message}); the check_proxies step will "
                "try again and pause if it still cannot (grant rds:DescribeDBProxies, or set skip_proxy_retarget)"
            )
    if group.mode == "copy" and group.existing:
        notes.append(f"The DB parameter group {group.target} already exists (made by rds-maint): reused")
    if major and instance.engine == "postgres":
        notes.append(
            "PostgreSQL major upgrade: AWS replicates logically, which does not copy DDL, sequences or large objects "
            "and needs a primary key (or REPLICA IDENTITY) on every table that is updated; freeze schema changes "
            "until the switchover (AWS: RDS for PostgreSQL limitations for blue/green deployments with logical "
            "replication)"
        )
    return DbInstanceBlueGreenFacts(
        instance_arn=str(instance.arn or instance.raw.get("DBInstanceArn") or ""),
        source_version=instance.engine_version,
        target_version=target,
        source_family=str(info.get("DBParameterGroupFamily") or ""),
        target_family=target_family,
        major_upgrade=major,
        parameter_group=group,
        target_settings=settings,
        replicas=tuple(instance.read_replica_ids),
        proxies=proxies,
        notes=tuple(notes),
    )


def _check_engine(instance: InstanceSnapshot) -> None:
    if instance.engine not in BLUE_GREEN_ENGINES:
        raise BadInput(
            f"{instance.id} runs {instance.engine}: rds-maint upgrades DB instances of "
            f"{', '.join(BLUE_GREEN_ENGINES)} through Blue/Green (AWS offers no Blue/Green for Db2, Oracle or SQL "
            "Server)"
        )


def _check_versions(
    rds: RdsPort, instance: InstanceSnapshot, target: str
) -> tuple[dict[str, object], dict[str, object], bool]:
    """`target` a valid upgrade target of the instance's version in this region (ValidUpgradeTarget)."""
    engine, current = instance.engine, instance.engine_version
    if target == current:
        raise BadInput(f"target_engine_version {target} is the version {instance.id} already runs; nothing to upgrade")
    info = rds.engine_version(engine, current) or {}
    target_info = rds.engine_version(engine, target)
    if target_info is None:
        raise BadInput(
            f"target_engine_version {target} is not a known {engine} version in this region "
            f"(aws rds describe-db-engine-versions --engine {engine} lists them)"
        )
    targets = {str(t["EngineVersion"]): t for t in info.get("ValidUpgradeTarget") or []}
    if target not in targets:
        valid = ", ".join(sorted(targets, key=version_key)) or "none"
        raise BadInput(
            f"target_engine_version {target} is not a valid upgrade target of {engine} {current} "
            f"(valid targets: {valid}; aws rds describe-db-engine-versions --engine {engine} --engine-version "
            f"{current})"
        )
    major = bool(targets[target].get("IsMajorVersionUpgrade"))
    if major and engine == "postgres":
        minimum = BLUE_GREEN_MINIMUM["aurora-postgresql"].get(current.split(".")[0])
        # the same minors as Aurora PostgreSQL (PostgreSQL replication methods for blue/green deployments)
        if minimum and version_key(current) < version_key(minimum):
            raise BadInput(
                f"{instance.id} runs PostgreSQL {current}; a Blue/Green major upgrade needs {minimum} or later in "
                f"that major version: upgrade the minor version first (engine_upgrade to {minimum} or later), then "
                f"to {target}"
            )
    return dict(info), dict(target_info), major


def _check_source_limits(rds: RdsPort, instance: InstanceSnapshot, major: bool) -> None:
    """What AWS does not support in a Blue/Green source (Limitations and considerations for Amazon RDS
    blue/green deployments)."""
    if instance.replica_source_id:
        raise BadInput(
            f"{instance.id} is a read replica of {instance.replica_source_id}: a Blue/Green deployment is made from "
            f"the source instance (its replicas get green copies): upgrade {instance.replica_source_id} instead"
        )
    if instance.raw.get("MasterUserSecret"):
        raise BadInput(
            f"{instance.id} manages its master password in Secrets Manager (MasterUserSecret); Blue/Green does not "
            "support that: turn it off first (modify-db-instance --no-manage-master-user-password "
            "--master-user-password ...), then create the operation again"
        )
    cross_region = [r for r in instance.read_replica_ids if r.startswith("arn:")]
    if cross_region:
        raise BadInput(
            f"{instance.id} has cross-Region read replicas ({', '.join(cross_region)}); Blue/Green does not support "
            "them: remove them (or use method in_place), then create the operation again"
        )
    for replica_id in instance.read_replica_ids:
        replica = rds.find_instance(replica_id)
        if replica is not None and replica.read_replica_ids:
            raise BadInput(
                f"{replica_id}, a read replica of {instance.id}, has replicas of its own "
                f"({', '.join(replica.read_replica_ids)}); Blue/Green does not support cascading read replicas"
            )
    if instance.engine == "mysql" and major:
        groups = [str(g.get("OptionGroupName")) for g in instance.raw.get("OptionGroupMemberships") or []]
        custom = [g for g in groups if g and not g.startswith("default:")]
        if custom:
            raise BadInput(
                f"{instance.id} uses the custom option group {', '.join(custom)}; AWS does not allow a major version "
                "upgrade in a Blue/Green deployment of an RDS for MySQL instance with a custom option group: use "
                "method in_place, or move the instance to a default option group first"
            )


def _check_replication_prerequisites(rds: RdsPort, instance: InstanceSnapshot, major: bool) -> None:
    """MySQL, MariaDB: automated backups on (green replicates from the binary log). PostgreSQL major upgrade:
    logical replication, rds.logical_replication=1 in the instance's DB parameter group, applied."""
    if instance.engine in ("mysql", "mariadb"):
        retention = int(instance.raw.get("BackupRetentionPeriod") or 0)
        if retention <= 0:
            raise BadInput(
                f"Blue/Green needs automated backups on {instance.id} (binary logging), but its backup retention "
                f"period is 0: run aws rds modify-db-instance --db-instance-identifier {instance.id} "
                "--backup-retention-period 1 --apply-immediately, wait until it is available, then create the "
                "operation again"
            )
        return
    if instance.engine != "postgres" or not major:
        return
    group = instance.parameter_group or ""
    values = {str(p["ParameterName"]): p.get("ParameterValue") for p in rds.parameters("instance", group)}
    value = values.get("rds.logical_replication")
    if str(value) != "1":
        how = (
            "it is a default group, which cannot be changed: create a custom DB parameter group with "
            "rds.logical_replication=1 and attach it to the instance"
            if group.startswith("default.") or not group
            else "set rds.logical_replication=1 in it"
        )
        raise BadInput(
            f"a PostgreSQL major upgrade through Blue/Green replicates logically and needs "
            f"rds.logical_replication=1 in the DB parameter group of {instance.id}, but {group or '(none)'} has "
            f"rds.logical_replication={value if value not in (None, '') else 'unset'}: {how}, then reboot "
            f"{instance.id} (a static parameter) and create the operation again; or use method in_place"
        )
    if instance.parameter_apply_status not in (None, "in-sync"):
        raise BadInput(
            f"{instance.id} is not in sync with its DB parameter group {group} ({instance.parameter_apply_status}): "
            f"reboot it so that rds.logical_replication takes effect, then create the operation again"
        )


def _check_no_deployment(rds: RdsPort, instance: InstanceSnapshot) -> None:
    arn = str(instance.arn or "")
    existing = rds.blue_green_deployments(source_arn=arn) if arn else []
    if existing:
        deployment = existing[0]
        raise BadInput(
            f"{instance.id} already has Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} "
            f"({deployment.get('Status')}); AWS allows one per instance: delete it (or let it finish) first "
            f"(aws rds describe-blue-green-deployments)"
        )


def _target_settings(
    rds: RdsPort, instance: InstanceSnapshot, params: EngineUpgradeParams
) -> tuple[tuple[str, TargetSettingValue], ...]:
    """The Target* settings of the green instance, checked: the class orderable at the target version, the
    storage as AWS accepts it."""
    target = params.target_engine_version
    instance_class = params.target_db_instance_class or instance.instance_class
    if not rds.is_orderable(instance.engine, target, instance_class):
        which = "target_db_instance_class" if params.target_db_instance_class else f"the class of {instance.id}"
        raise BadInput(
            f"{which} {instance_class} is not orderable for {instance.engine} {target} in this region: set "
            "target_db_instance_class to a class the target version supports (aws rds "
            f"describe-orderable-db-instance-options --engine {instance.engine} --engine-version {target})"
        )
    check_green_storage(instance, params)
    settings: list[tuple[str, TargetSettingValue]] = []
    pairs: tuple[tuple[str, TargetSettingValue | None], ...] = (
        ("TargetDBInstanceClass", params.target_db_instance_class),
        ("TargetStorageType", params.target_storage_type),
        ("TargetAllocatedStorage", params.target_allocated_storage),
        ("TargetIops", params.target_iops),
        ("TargetStorageThroughput", params.target_storage_throughput),
        ("UpgradeTargetStorageConfig", params.upgrade_target_storage_config),
    )
    for key, value in pairs:
        if value is not None:
            settings.append((key, value))
    return tuple(settings)


def check_green_storage(instance: InstanceSnapshot, params: EngineUpgradeParams) -> None:
    """The green instance's storage (TargetStorageType, TargetAllocatedStorage, TargetIops,
    TargetStorageThroughput) as AWS accepts it. Unlike ModifyDBInstance, a green instance may have less
    storage than blue ("You can choose to increase or decrease the allocated storage on the green DB
    instance": CreateBlueGreenDeployment API reference), down to the type's minimum."""
    storage_type = params.target_storage_type or instance.storage_type or "gp2"
    if params.target_storage_type and params.target_storage_type not in GREEN_STORAGE_TYPES:
        raise BadInput(
            f"target_storage_type {params.target_storage_type} is not a storage type of a green instance; use one "
            f"of {', '.join(GREEN_STORAGE_TYPES)}"
        )
    if storage_type not in GREEN_STORAGE_TYPES and any(
        v is not None for v in (params.target_allocated_storage, params.target_iops, params.target_storage_throughput)
    ):
        raise BadInput(
            f"{instance.id} has {storage_type} storage: set target_storage_type (one of "
            f"{', '.join(GREEN_STORAGE_TYPES)}) to change the green instance's storage"
        )
    size = params.target_allocated_storage or instance.allocated_storage or 0
    minimum = MIN_STORAGE_GIB.get(storage_type, 0)
    if params.target_allocated_storage is not None and size < minimum:
        raise BadInput(f"target_allocated_storage {size} GiB is below the {minimum} GiB minimum of {storage_type}")
    if storage_type in ("io1", "io2") and params.target_iops is None and instance.storage_type not in ("io1", "io2"):
        raise BadInput(
            f"target_storage_type {storage_type} needs target_iops (provisioned IOPS for the green instance)"
        )
    if storage_type == "gp2" and params.target_iops is not None:
        raise BadInput("target_iops applies to io1, io2 and gp3 storage; gp2 IOPS follow its size: leave it out")
    if params.target_storage_throughput is not None and storage_type != "gp3":
        raise BadInput(
            f"target_storage_throughput applies only to gp3 storage (the green instance gets {storage_type})"
        )
    if (
        storage_type == "gp3"
        and size < GP3_BASELINE_GIB
        and (params.target_iops is not None or params.target_storage_throughput is not None)
    ):
        raise BadInput(
            f"gp3 storage under {GP3_BASELINE_GIB} GiB has a fixed baseline (3000 IOPS, 125 MiB/s) for "
            f"{instance.engine}: leave target_iops and target_storage_throughput out, or set "
            f"target_allocated_storage to {GP3_BASELINE_GIB} or more"
        )
