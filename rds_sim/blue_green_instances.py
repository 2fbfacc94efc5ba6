"""Blue/Green deployments of RDS DB instances (MySQL, MariaDB, PostgreSQL) on the virtual clock.

`blue_green.BlueGreenSim` hands this module every deployment whose `Source` is a DB instance ARN
(`arn:aws:rds:REGION:ACCOUNT:db:NAME`). Its instances live in moto, created, renamed and removed
through moto's public API; the deployment and the time-dependent statuses live here. Each behaviour
and its source (docs/aws-behaviour.md, "Blue/Green for DB instances"):

* `CreateBlueGreenDeployment` refuses, before creating anything: a source that is not `available`, is
  already in a deployment, runs another engine, is a member of a cluster (Aurora: use the cluster ARN;
  Multi-AZ DB clusters are not supported), is itself a read replica (unknown on AWS: the harsher
  answer), has cascading or cross-Region read replicas, or manages its master password in Secrets
  Manager (RDS user guide, Blue/Green limitations); automated backups off (MySQL, MariaDB, PostgreSQL:
  "Preparing for a blue/green deployment"; required for PostgreSQL logical replication too, the harsher
  reading); a PostgreSQL major upgrade from a version that cannot (15.3 and lower, 14.8, 13.11, ...) or
  without `rds.logical_replication=1` applied (in sync) in the source's DB parameter group;
  `TargetDBClusterParameterGroupName` (Aurora only); a version that is not a valid upgrade target; a
  parameter group of another family; a class not orderable at the target version; Target* storage that
  breaks the storage rules (API reference, RDS user guide "Amazon RDS DB instance storage").
* The green instance `NAME-green-xxxxxx` is created with the target settings, Multi-AZ if blue is, with
  blue's tags, backups and deletion protection; each blue read replica gets a green read replica
  `REPLICA-green-xxxxxx` whose allocated storage matches the green primary (user guide, "Creating").
  The deployment reads PROVISIONING (green `creating`) for ~30 minutes, ~2 hours when the storage
  changes; then AVAILABLE, while the green members are not ready for a few more minutes
  (terraform-provider-aws#36241) and, after a storage change, green reads `storage-optimization` for
  hours (FIELD_NOTES 5.3, terraform-provider-aws#48830). Until green is `available`, a switchover is
  refused with InvalidBlueGreenDeploymentStateFault "DB instance ... is not in available state"
  (terraform-provider-aws#35802, #47493); nothing is started.
* `SwitchoverBlueGreenDeployment`: AVAILABLE for a few seconds more, then SWITCHOVER_IN_PROGRESS for
  about a minute (writes stop: "typically under a minute", API reference), then SWITCHOVER_COMPLETED:
  blue is renamed `NAME-old1` (replicas `REPLICA-old1`) and green takes the blue names; endpoints follow
  the names. The old blue instance stays read-only (`is_read_only`) until the deployment is deleted.
  A switchover that would outlast `SwitchoverTimeout`, or one a test armed to fail, ends
  SWITCHOVER_FAILED with nothing renamed.
* `DeleteBlueGreenDeployment`: refused while PROVISIONING (unknown on AWS, the harsher answer) and while
  switching; `DeleteTarget` refused at all once SWITCHOVER_COMPLETED (API reference); `DeleteTarget=true`
  refused while green has deletion protection (copied from blue; the Aurora user guide states it for
  clusters, the harsher reading for instances), else green's instances read `deleting` for ~10 minutes
  and go. Without `DeleteTarget` the green instance stays, on its own.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rds_sim.catalogue import MARIADB, MYSQL, POSTGRES, version_key
from rds_sim.db_instance_catalogue import RDS_ENGINES
from rds_sim.errors import ApiError, not_orderable
from rds_sim.seeding import MASTER_PASSWORD, MASTER_USERNAME
from rds_sim.world_protocol import World

__all__ = ["InstanceBlueGreenDurations", "InstanceBlueGreenSim", "is_instance_source"]

PROVISIONING = "PROVISIONING"
AVAILABLE = "AVAILABLE"
SWITCHOVER_IN_PROGRESS = "SWITCHOVER_IN_PROGRESS"
SWITCHOVER_COMPLETED = "SWITCHOVER_COMPLETED"
SWITCHOVER_FAILED = "SWITCHOVER_FAILED"
INVALID_CONFIGURATION = "INVALID_CONFIGURATION"
DELETING = "DELETING"
STORAGE_OPTIMIZATION = "storage-optimization"

_ACCOUNT = "123456789012"
_DB_ARN = re.compile(r"arn:aws:rds:[a-z0-9-]+:\d{12}:db:([A-Za-z][A-Za-z0-9-]*)")
STORAGE_TYPES = ("gp2", "gp3", "io1", "io2")
# Allocated storage bounds (GiB) per storage type for MySQL, MariaDB and PostgreSQL (RDS user guide,
# "Amazon RDS DB instance storage").
_STORAGE_BOUNDS = {"gp2": (20, 65536), "gp3": (20, 65536), "io1": (100, 65536), "io2": (100, 65536)}
GP3_BASELINE_BELOW = 400  # GiB: below it gp3 has fixed 3,000 IOPS / 125 MiBps (MySQL, MariaDB, PostgreSQL)
# PostgreSQL versions from which a Blue/Green *major* upgrade (logical replication) is possible: per major,
# the lowest minor ("not supported ... with source 15.3 and lower, 14.8 and lower, 13.11 and lower, 12.15 and
# lower, 11.20 and lower"; RDS user guide, "PostgreSQL replication methods for blue/green deployments").
_PG_MAJOR_UPGRADE_FROM = {11: (11, 21), 12: (12, 16), 13: (13, 12), 14: (14, 9), 15: (15, 4), 16: (16, 1)}


@dataclass(frozen=True)
class InstanceBlueGreenDurations:
    """Seconds of virtual time (before `time_scale`), each with the timeline's seeded jitter."""

    provision: float = 1800  # green creation from a snapshot: tens of minutes
    # With a storage change the green build takes hours (terraform-provider-aws#46837: "can take 4+ hours"
    # in all), and green then reads `storage-optimization` for hours more (FIELD_NOTES 5.3).
    provision_storage: float = 7200
    storage_optimization: float = 14400
    green_ready: float = 180  # AVAILABLE but green members not ready yet (terraform-provider-aws#36241)
    switchover: float = 60  # SWITCHOVER_IN_PROGRESS: writes stop for about a minute
    switchover_lag: float = 5
    delete: float = 60
    delete_target: float = 600  # DELETING with DeleteTarget: the green instances go (~10 min)


@dataclass
class _InstanceDeployment:
    id: str
    name: str
    source_id: str  # blue primary (after switchover: `NAME-old1`)
    target_id: str  # green primary (after switchover: `NAME`)
    target_version: str
    members: list[tuple[str, str]]  # (blue, green): primary first, then read replicas
    created: datetime
    provisioned_at: datetime
    green_ready_at: datetime
    optimized_at: datetime | None  # green reads storage-optimization until then (a storage change)
    upgrading: bool
    tags: list[dict[str, str]]
    status: str = PROVISIONING
    status_details: str = "Creating the green environment"
    member_status: str | None = None
    invalid_reason: str | None = None
    switchover_visible_at: datetime | None = None
    switchover_ends_at: datetime | None = None
    switchover_fails: str | None = None
    delete_ends_at: datetime | None = None
    delete_target: bool = False
    switched_at: datetime | None = None
    history: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _GreenStorage:
    storage_type: str
    allocated: int
    iops: int | None
    throughput: int | None
    changed: bool


def is_instance_source(source: str) -> bool:
    """The `Source` of a CreateBlueGreenDeployment names a DB instance (`:db:` ARN)."""
    return ":db:" in source


def _arn(region: str, name: str) -> str:
    return f"arn:aws:rds:{region}:{_ACCOUNT}:db:{name}"


def _green_name(base: str, suffix: str) -> str:
    tail = f"-green-{suffix}"
    return base[: 63 - len(tail)].rstrip("-") + tail


def _bad_state(message: str) -> ApiError:
    return ApiError("InvalidBlueGreenDeploymentStateFault", message)


def _unsupported(message: str) -> ApiError:
    return ApiError("SourceDatabaseNotSupportedFault", message)


def _combination(message: str) -> ApiError:
    return ApiError("InvalidParameterCombination", message)


def _group_of(data: dict[str, Any]) -> str:
    groups = data.get("DBParameterGroups") or [{}]
    return str(groups[0].get("DBParameterGroupName") or "")


def _apply_status(data: dict[str, Any]) -> str:
    groups = data.get("DBParameterGroups") or [{}]
    return str(groups[0].get("ParameterApplyStatus") or "in-sync")


class InstanceBlueGreenSim:
    """The Blue/Green deployments of DB instances of one simulated region (`sim.blue_green.instances`)."""

    def __init__(self, world: World, durations: InstanceBlueGreenDurations | None = None) -> None:
        self.world = world
        self.durations = durations or InstanceBlueGreenDurations()
        self._deployments: dict[str, _InstanceDeployment] = {}
        self._count = 0

    @property
    def region(self) -> str:
        return self.world.moto.region

    # -- what the parent and tests read ------------------------------------------------------------

    def holds(self, identifier: str) -> bool:
        return identifier in self._deployments

    def all(self) -> list[_InstanceDeployment]:
        return list(self._deployments.values())

    def describe(self, deployment: _InstanceDeployment) -> dict[str, Any]:
        return self._describe(deployment)

    def passes(self, deployment: _InstanceDeployment, filters: dict[str, list[str]]) -> bool:
        region = self.region
        values = {
            "blue-green-deployment-identifier": {deployment.id},
            "blue-green-deployment-name": {deployment.name},
            "source": {deployment.source_id, _arn(region, deployment.source_id)},
            "target": {deployment.target_id, _arn(region, deployment.target_id)},
        }
        for name, accepted in filters.items():
            if name not in values:
                raise ApiError("InvalidParameterValue", f"Unrecognized filter name: {name}")
            if not values[name] & set(accepted):
                return False
        return True

    def instance_status(self, instance_id: str) -> str | None:
        """A green instance's status while built, optimized or deleted with DeleteTarget."""
        now = self.world.now()
        for deployment in self._deployments.values():
            if deployment.switched_at is not None or not any(g == instance_id for _, g in deployment.members):
                continue
            if deployment.status == PROVISIONING:
                return "creating"
            if deployment.status == DELETING and deployment.delete_target:
                return "deleting"
            if deployment.optimized_at is not None and now < deployment.optimized_at:
                return STORAGE_OPTIMIZATION
        return None

    def is_read_only(self, instance_id: str) -> bool:
        """Old blue after a switchover stays read-only until its deployment is deleted (FIELD_NOTES 5.1)."""
        return any(
            d.switched_at is not None and any(b == instance_id for b, _ in d.members)
            for d in self._deployments.values()
        )

    def is_member(self, instance_id: str) -> bool:
        return any(instance_id in (b, g) for d in self._deployments.values() for b, g in d.members)

    def delay_green_ready(self, until: datetime) -> None:
        for deployment in self._deployments.values():
            if deployment.switched_at is None:
                deployment.green_ready_at = max(deployment.green_ready_at, until)

    def invalidate(self, instance_id: str, reason: str) -> bool:
        for deployment in self._deployments.values():
            if instance_id in (deployment.source_id, deployment.target_id) and deployment.status in (
                PROVISIONING,
                AVAILABLE,
            ):
                deployment.status = INVALID_CONFIGURATION
                deployment.status_details = reason
                return True
        return False

    # -- time --------------------------------------------------------------------------------------

    def _span(self, name: str, key: str) -> timedelta:
        base = float(getattr(self.durations, name)) * self.world.timeline.time_scale
        jitter = max(0.0, min(self.world.timeline.durations.jitter, 0.1))
        seed = self.world.timeline.seed
        draw = random.Random(f"{seed}|{key}|bgi-{name}").uniform(-jitter, jitter) if jitter else 0.0
        return timedelta(seconds=max(0.0, base * (1.0 + draw)))

    def settle(self) -> None:
        """Apply every deployment event due by now, oldest first."""
        now = self.world.clock.now()
        while True:
            due: list[tuple[datetime, int, str, str]] = []
            for order, d in enumerate(self._deployments.values()):
                if d.status == PROVISIONING and d.provisioned_at <= now:
                    due.append((d.provisioned_at, order, "provisioned", d.id))
                visible = d.switchover_visible_at
                if visible is not None and visible <= now and d.status in (AVAILABLE, SWITCHOVER_FAILED):
                    due.append((visible, order, "switching", d.id))
                ends = d.switchover_ends_at
                if d.status == SWITCHOVER_IN_PROGRESS and ends is not None and ends <= now:
                    due.append((ends, order, "switched", d.id))
                if d.status == DELETING and d.delete_ends_at is not None and d.delete_ends_at <= now:
                    due.append((d.delete_ends_at, order, "deleted", d.id))
            if not due:
                return
            at, _, event, key = min(due)
            self._apply(event, key, at)

    def _apply(self, event: str, key: str, at: datetime) -> None:
        deployment = self._deployments[key]
        if event == "provisioned":
            if deployment.invalid_reason:
                deployment.status = INVALID_CONFIGURATION
                deployment.status_details = deployment.invalid_reason
            else:
                deployment.status = AVAILABLE
                deployment.status_details = "Green environment is ready for switchover"
        elif event == "switching":
            deployment.status = SWITCHOVER_IN_PROGRESS
            deployment.status_details = "Switchover in progress"
            deployment.member_status = None
        elif event == "switched":
            deployment.switchover_visible_at = None
            if deployment.switchover_fails:
                deployment.status = SWITCHOVER_FAILED
                deployment.status_details = deployment.switchover_fails
                deployment.member_status = SWITCHOVER_FAILED
                deployment.switchover_fails = None
            else:
                self._swap(deployment, at)
        elif event == "deleted":
            del self._deployments[key]
            if deployment.delete_target:
                for _, green in reversed(deployment.members):  # replicas first, then the primary
                    if self.world.moto.instance(green) is not None:
                        self.world.moto.call(
                            "DeleteDBInstance", {"DBInstanceIdentifier": green, "SkipFinalSnapshot": True}
                        )

    # -- the API -----------------------------------------------------------------------------------

    def create(self, params: dict[str, Any], name: str, invalid_next: Callable[[], str | None]) -> dict[str, Any]:
        source = str(params.get("Source", ""))
        match = _DB_ARN.fullmatch(source)
        if match is None:
            raise ApiError("InvalidParameterValue", f"Source must be the ARN of a DB instance or DB cluster: {source}")
        blue_id = match.group(1)
        blue = self.world.moto.instance(blue_id)
        if blue is None:
            raise ApiError("DBInstanceNotFound", f"DBInstance {blue_id} not found.", 404)
        if params.get("TargetDBClusterParameterGroupName"):
            raise _combination(
                "TargetDBClusterParameterGroupName applies only to Aurora DB clusters; for a DB instance use "
                "TargetDBParameterGroupName."
            )
        blue = self.world.overlay_instance(blue)
        replicas = self._check_source(blue_id, blue)
        engine = str(blue["Engine"])
        current = str(blue["EngineVersion"])
        catalogue = self.world.catalogue
        target_version = str(params.get("TargetEngineVersion") or current)
        if target_version != current and target_version not in [
            t.engine_version for t in catalogue.upgrade_targets(engine, current)
        ]:
            raise _combination(f"Cannot upgrade {engine} from {current} to {target_version}.")
        major = catalogue.major(engine, target_version) != catalogue.major(engine, current)
        self._check_prerequisites(blue_id, blue, engine, current, major)
        family = catalogue.family(engine, target_version)
        group = self._target_group(params.get("TargetDBParameterGroupName"), _group_of(blue), family, major)
        if self.world.parameter_groups.is_young("instance", group):
            group = f"default.{family}"  # used too early: the harsher plausible answer (see parameter_groups)
        instance_class = str(params.get("TargetDBInstanceClass") or blue["DBInstanceClass"])
        if not catalogue.is_orderable(engine, target_version, instance_class):
            raise not_orderable(instance_class, engine, target_version, catalogue.license_model(engine))
        storage = self._target_storage(blue, params)
        invalid_reason = invalid_next()
        scheduler = self.world.parameter_groups.value("instance", group, "event_scheduler")
        if engine in (MYSQL, MARIADB) and str(scheduler or "OFF").upper() == "ON":
            # "The Event Scheduler (event_scheduler parameter) must be disabled on the green environment"
            # (Blue/Green limitations); otherwise unknown: the harsher answer, built and then unusable.
            invalid_reason = f"event_scheduler is ON in the DB parameter group {group} of the green environment"

        self._count += 1
        names = random.Random(f"{self.world.timeline.seed}|bgi|{self._count}")
        suffix = "".join(names.choices(string.ascii_lowercase + string.digits, k=6))
        deployment_id = "bgd-" + "".join(names.choices(string.ascii_lowercase + string.digits, k=16))
        green_id = _green_name(blue_id, suffix)
        self._create_green(blue, green_id, target_version, instance_class, group, storage)
        members = [(blue_id, green_id)]
        for replica_id, replica in replicas:
            green_replica = _green_name(replica_id, suffix)
            self._create_replica(replica, green_replica, green_id, storage.allocated)
            members.append((replica_id, green_replica))
        now = self.world.now()
        provisioned_at = now + self._span("provision_storage" if storage.changed else "provision", deployment_id)
        optimized_at = provisioned_at + self._span("storage_optimization", deployment_id) if storage.changed else None
        deployment = _InstanceDeployment(
            id=deployment_id,
            name=name,
            source_id=blue_id,
            target_id=green_id,
            target_version=target_version,
            members=members,
            created=now,
            provisioned_at=provisioned_at,
            green_ready_at=provisioned_at + self._span("green_ready", deployment_id),
            optimized_at=optimized_at,
            upgrading=target_version != current,
            tags=[dict(t) for t in params.get("Tags") or []],
            invalid_reason=invalid_reason,
        )
        self._deployments[deployment_id] = deployment
        return {"BlueGreenDeployment": self._describe(deployment)}

    def switchover(self, params: dict[str, Any], fail_next: Callable[[], str | None]) -> dict[str, Any]:
        identifier = str(params.get("BlueGreenDeploymentIdentifier", ""))
        deployment = self._deployments[identifier]
        timeout = int(params.get("SwitchoverTimeout") or 300)
        if timeout < 30:
            raise ApiError("InvalidParameterValue", "SwitchoverTimeout must be at least 30 seconds.")
        prefix = f"Blue/green deployment {identifier}"
        if deployment.switchover_visible_at is not None or deployment.status == SWITCHOVER_IN_PROGRESS:
            raise _bad_state(f"{prefix}: a switchover is already in progress.")
        if deployment.status not in (AVAILABLE, SWITCHOVER_FAILED):
            raise _bad_state(f"{prefix}: the deployment is {deployment.status}, not AVAILABLE.")
        if self.world.now() < deployment.green_ready_at:
            raise _bad_state(f"{prefix}: the green environment members are not in available state.")
        for blue, green in deployment.members:
            for instance_id in (green, blue):
                if self.world.moto.instance(instance_id) is None:
                    raise _bad_state(f"{prefix}: DB instance {instance_id} of the deployment was deleted.")
                if self.world.instance_status(instance_id) != "available":
                    # terraform-provider-aws#35802: "DB instance <name>-green-xxxxxx is not in available state"
                    raise _bad_state(f"DB instance {instance_id} is not in available state")
        now = self.world.now()
        occurrence = f"{deployment.id}|{len(deployment.history)}"
        deployment.history.append(f"switchover requested at {now.isoformat()}")
        deployment.switchover_visible_at = now + self._span("switchover_lag", occurrence)
        duration = self._span("switchover", occurrence)
        deployment.switchover_ends_at = deployment.switchover_visible_at + duration
        reason = fail_next()
        if reason:
            deployment.switchover_fails = reason
        elif duration.total_seconds() > timeout:
            deployment.switchover_fails = (
                f"Switchover timed out after {timeout} seconds (SwitchoverTimeout); all changes were rolled back"
            )
        return {"BlueGreenDeployment": self._describe(deployment)}

    def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        identifier = str(params.get("BlueGreenDeploymentIdentifier", ""))
        deployment = self._deployments[identifier]
        prefix = f"Blue/green deployment {identifier}"
        delete_target = bool(params.get("DeleteTarget"))
        if deployment.switchover_visible_at is not None or deployment.status == SWITCHOVER_IN_PROGRESS:
            raise _bad_state(f"{prefix}: a switchover is in progress; delete the deployment after it ends.")
        if deployment.status == DELETING:
            raise _bad_state(f"{prefix}: the deployment is already being deleted.")
        if deployment.status == PROVISIONING:
            raise _bad_state(f"{prefix}: the green environment is still being created; try again later.")
        if "DeleteTarget" in params and deployment.status == SWITCHOVER_COMPLETED:
            raise _combination(
                "You can't specify DeleteTarget when the blue/green deployment status is SWITCHOVER_COMPLETED."
            )
        if delete_target:
            green = self.world.moto.instance(deployment.target_id)
            if green is not None and green.get("DeletionProtection"):
                raise _combination(
                    f"Cannot delete protected DB Instance {deployment.target_id} in the green environment, please "
                    "disable deletion protection and try again."
                )
        deployment.status = DELETING
        deployment.status_details = "Deleting the blue/green deployment"
        deployment.delete_target = delete_target
        deployment.delete_ends_at = self.world.now() + self._span(
            "delete_target" if delete_target else "delete", deployment.id
        )
        return {"BlueGreenDeployment": self._describe(deployment)}

    # -- checks ------------------------------------------------------------------------------------

    def _check_source(self, blue_id: str, blue: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Refuse a source AWS does not take; its read replicas (id, data) otherwise."""
        for deployment in self._deployments.values():
            if any(blue_id in pair for pair in deployment.members) and deployment.status != DELETING:
                raise ApiError(
                    "InvalidDBInstanceState",
                    f"DB instance {blue_id} is already part of blue/green deployment {deployment.id}.",
                )
        engine = str(blue["Engine"])
        cluster_id = blue.get("DBClusterIdentifier")
        if cluster_id and engine.startswith("aurora"):
            raise ApiError(
                "InvalidParameterValue",
                f"DB instance {blue_id} belongs to Aurora DB cluster {cluster_id}: give the DB cluster's ARN as "
                "Source.",
            )
        if cluster_id:
            raise _unsupported(
                f"DB instance {blue_id} is a member of Multi-AZ DB cluster {cluster_id}: blue/green deployments "
                "aren't supported for Multi-AZ DB clusters."
            )
        if engine not in RDS_ENGINES:
            raise _unsupported(f"Blue/green deployments aren't supported for the {engine} engine.")
        status = str(blue.get("DBInstanceStatus"))
        if status != "available":
            raise ApiError(
                "InvalidDBInstanceState", f"DB instance {blue_id} is not in available state (it is {status})."
            )
        if blue.get("MasterUserSecret"):
            raise _unsupported(
                f"The source DB instance {blue_id} manages its master user password with AWS Secrets Manager, "
                "which blue/green deployments don't support."
            )
        if blue.get("ReadReplicaSourceDBInstanceIdentifier") or blue.get("ReadReplicaSourceDBClusterIdentifier"):
            raise _unsupported(f"The source DB instance {blue_id} is a read replica; use its primary as the source.")
        replicas: list[tuple[str, dict[str, Any]]] = []
        for replica_id in blue.get("ReadReplicaDBInstanceIdentifiers") or []:
            replica_id = str(replica_id)
            if replica_id.startswith("arn:"):
                raise _unsupported(
                    f"DB instance {blue_id} has a cross-Region read replica ({replica_id}): blue/green deployments "
                    "aren't supported for cross-Region read replicas."
                )
            replica = self.world.moto.instance(replica_id)
            if replica is None:
                continue
            if replica.get("ReadReplicaDBInstanceIdentifiers"):
                raise _unsupported(
                    f"Read replica {replica_id} of {blue_id} has read replicas of its own: blue/green deployments "
                    "aren't supported for cascading read replicas."
                )
            if self.world.instance_status(replica_id) != "available":
                raise ApiError("InvalidDBInstanceState", f"DB instance {replica_id} is not in available state.")
            replicas.append((replica_id, replica))
        return replicas

    def _check_prerequisites(self, blue_id: str, blue: dict[str, Any], engine: str, current: str, major: bool) -> None:
        if int(blue.get("BackupRetentionPeriod") or 0) == 0:
            raise _unsupported(
                f"Correct the prerequisites and try again: automated backups must be enabled on DB instance "
                f"{blue_id} (BackupRetentionPeriod greater than 0) for a blue/green deployment."
            )
        if engine != POSTGRES or not major:
            return
        key = version_key(current)
        lowest = _PG_MAJOR_UPGRADE_FROM.get(key[0])
        if lowest is not None and key[:2] < lowest:
            raise _unsupported(
                f"Blue/green deployments don't support major version upgrades from PostgreSQL {current}; upgrade "
                f"DB instance {blue_id} to {lowest[0]}.{lowest[1]} or higher first."
            )
        group = _group_of(blue)
        value = self.world.parameter_groups.value("instance", group, "rds.logical_replication")
        if value != "1":
            raise _unsupported(
                f"Correct the prerequisites and try again: a major version upgrade replicates logically, so the DB "
                f"parameter group {group} of DB instance {blue_id} must set rds.logical_replication to 1."
            )
        if _apply_status(blue) != "in-sync":
            raise _unsupported(
                f"Correct the prerequisites and try again: DB instance {blue_id} must be in sync with its DB "
                f"parameter group {group} (it is {_apply_status(blue)}); reboot it to apply rds.logical_replication."
            )

    def _target_group(self, explicit: Any, blue_group: str, family: str, major: bool) -> str:
        groups = self.world.parameter_groups
        groups.ensure_defaults()
        if explicit:
            name = str(explicit)
            found = groups.group("instance", name)
            if found is None:
                raise ApiError("DBParameterGroupNotFound", f"DBParameterGroup {name} not found.", 404)
            if found["DBParameterGroupFamily"] != family:
                raise _combination(
                    f"The parameter group {name} with DBParameterGroupFamily {found['DBParameterGroupFamily']} "
                    f"can't be used for this instance. Use a parameter group with DBParameterGroupFamily {family}."
                )
            return name
        if blue_group and not major:
            return blue_group
        return f"default.{family}"

    def _target_storage(self, blue: dict[str, Any], params: dict[str, Any]) -> _GreenStorage:
        """Green's storage from blue's and the Target* settings, refused as AWS states its rules."""
        blue_type = str(blue.get("StorageType") or "gp2")
        blue_allocated = int(blue.get("AllocatedStorage") or 0)
        blue_iops = blue.get("Iops")
        blue_throughput = blue.get("StorageThroughput")
        storage_type = str(params.get("TargetStorageType") or blue_type)
        if storage_type not in STORAGE_TYPES:
            raise ApiError(
                "InvalidParameterValue",
                f"Invalid storage type: {storage_type}. Valid values for TargetStorageType: gp2 | gp3 | io1 | io2.",
            )
        allocated = int(params.get("TargetAllocatedStorage") or blue_allocated)
        low, high = _STORAGE_BOUNDS[storage_type]
        if not low <= allocated <= high:
            raise ApiError(
                "InvalidParameterValue",
                f"Invalid storage size for {storage_type}: {allocated} GiB. Use {low} to {high} GiB.",
            )
        iops = params.get("TargetIops")
        throughput = params.get("TargetStorageThroughput")
        if throughput is not None and storage_type != "gp3":
            raise _combination("TargetStorageThroughput applies only to the gp3 storage type.")
        if storage_type == "gp2" and iops is not None:
            raise _combination("TargetIops isn't supported for the gp2 storage type.")
        if storage_type == "gp3":
            if allocated < GP3_BASELINE_BELOW:
                if iops is not None or throughput is not None:
                    raise _combination(
                        f"You can't specify IOPS or storage throughput for gp3 storage below {GP3_BASELINE_BELOW} GiB "
                        f"({allocated} GiB): it has a fixed baseline of 3000 IOPS and 125 MiBps."
                    )
                iops, throughput = 3000, 125
            else:
                iops = int(iops if iops is not None else (blue_iops if blue_type == "gp3" else 12000) or 12000)
                throughput = int(
                    throughput if throughput is not None else (blue_throughput if blue_type == "gp3" else 500) or 500
                )
                if not 12000 <= iops <= 64000 or iops > 500 * allocated:
                    raise _combination(
                        f"Invalid IOPS {iops} for gp3 storage of {allocated} GiB: use 12000 to 64000, at most 500 "
                        "per GiB."
                    )
                if not 500 <= throughput <= 4000 or throughput > iops / 4:
                    raise _combination(
                        f"Invalid storage throughput {throughput} MiBps for gp3 with {iops} IOPS: use 500 to 4000 "
                        "MiBps, at most 0.25 MiBps per IOPS."
                    )
        if storage_type in ("io1", "io2"):
            if iops is None and blue_type in ("io1", "io2"):
                iops = blue_iops
            if iops is None:
                raise _combination(f"TargetIops is required for the {storage_type} storage type.")
            iops = int(iops)
            ratio = (0.5, 50) if storage_type == "io1" else (0.5, 1000)
            if not 1000 <= iops <= 256000 or not ratio[0] * allocated <= iops <= ratio[1] * allocated:
                raise _combination(
                    f"Invalid IOPS {iops} for {storage_type} storage of {allocated} GiB: use 1000 to 256000, "
                    f"{ratio[0]:g} to {ratio[1]:g} IOPS per GiB."
                )
        if storage_type == "gp2":
            iops, throughput = None, None
        changed = (
            storage_type != blue_type
            or allocated != blue_allocated
            or (params.get("TargetIops") is not None and iops != blue_iops)
            or (params.get("TargetStorageThroughput") is not None and throughput != blue_throughput)
            or bool(params.get("UpgradeTargetStorageConfig"))
        )
        return _GreenStorage(storage_type, allocated, iops, throughput, changed)

    # -- resources in moto ---------------------------------------------------------------------------

    def _create_green(
        self,
        blue: dict[str, Any],
        green_id: str,
        version: str,
        instance_class: str,
        group: str,
        storage: _GreenStorage,
    ) -> None:
        params: dict[str, Any] = {
            "DBInstanceIdentifier": green_id,
            "Engine": blue["Engine"],
            "EngineVersion": version,
            "DBInstanceClass": instance_class,
            "MasterUsername": blue.get("MasterUsername") or MASTER_USERNAME,
            "MasterUserPassword": MASTER_PASSWORD,
            "MultiAZ": bool(blue.get("MultiAZ")),
            "StorageType": storage.storage_type,
            "AllocatedStorage": storage.allocated,
            "DBParameterGroupName": group,
            "BackupRetentionPeriod": int(blue.get("BackupRetentionPeriod") or 0),
            "DeletionProtection": bool(blue.get("DeletionProtection")),
            "StorageEncrypted": bool(blue.get("StorageEncrypted")),
            "Tags": [dict(t) for t in blue.get("TagList") or []],
        }
        if storage.iops is not None:
            params["Iops"] = storage.iops
        if storage.throughput is not None:
            params["StorageThroughput"] = storage.throughput
        if blue.get("AvailabilityZone"):
            params["AvailabilityZone"] = blue["AvailabilityZone"]
        self.world.moto.call("CreateDBInstance", params)

    def _create_replica(self, replica: dict[str, Any], name: str, primary: str, allocated: int | None) -> None:
        """A read replica of `primary` like `replica`; a green one's allocated storage matches green's primary."""
        params: dict[str, Any] = {
            "DBInstanceIdentifier": name,
            "SourceDBInstanceIdentifier": primary,
            "DBInstanceClass": replica["DBInstanceClass"],
            "MultiAZ": bool(replica.get("MultiAZ")),
            "StorageType": str(replica.get("StorageType") or "gp2"),
            "Tags": [dict(t) for t in replica.get("TagList") or []],
        }
        if replica.get("AvailabilityZone"):
            params["AvailabilityZone"] = replica["AvailabilityZone"]
        self.world.moto.call("CreateDBInstanceReadReplica", params)
        size = allocated if allocated is not None else replica.get("AllocatedStorage")
        if size:
            self.world.moto.call(
                "ModifyDBInstance",
                {"DBInstanceIdentifier": name, "AllocatedStorage": int(size), "ApplyImmediately": True},
            )

    def _rename(self, old: str, new: str) -> None:
        self.world.moto.call(
            "ModifyDBInstance", {"DBInstanceIdentifier": old, "NewDBInstanceIdentifier": new, "ApplyImmediately": True}
        )
        self.world.rename_parameter_status(old, new)

    def _swap(self, deployment: _InstanceDeployment, at: datetime) -> None:
        """Blue becomes `NAME-old1`, green takes the blue names (replicas likewise).

        moto renames an instance but leaves its read replicas pointing at the old name, so the replicas
        are recreated under their new names, as replicas of the renamed primaries.
        """
        moto = self.world.moto
        blue_id, green_id = deployment.source_id, deployment.target_id
        n = 1
        while moto.instance(f"{blue_id}-old{n}") is not None:
            n += 1
        old_id = f"{blue_id}-old{n}"
        replicas = deployment.members[1:]
        saved = {i: moto.instance(i) for pair in replicas for i in pair}
        for blue_replica, green_replica in replicas:
            for instance_id in (blue_replica, green_replica):
                if saved[instance_id] is not None:
                    moto.call("DeleteDBInstance", {"DBInstanceIdentifier": instance_id, "SkipFinalSnapshot": True})
        self._rename(blue_id, old_id)
        self._rename(green_id, blue_id)
        renamed = [(old_id, blue_id)]
        for blue_replica, green_replica in replicas:
            old_replica = f"{blue_replica}-old{n}"
            blue_data, green_data = saved[blue_replica], saved[green_replica]
            if blue_data is not None:
                self._create_replica(blue_data, old_replica, old_id, None)
            if green_data is not None:
                self._create_replica(green_data, blue_replica, blue_id, None)
            self.world.rename_parameter_status(blue_replica, old_replica)
            self.world.rename_parameter_status(green_replica, blue_replica)
            renamed.append((old_replica, blue_replica))
        deployment.source_id = old_id
        deployment.target_id = blue_id
        deployment.members = renamed
        deployment.status = SWITCHOVER_COMPLETED
        deployment.status_details = "Switchover completed"
        deployment.member_status = None
        deployment.switched_at = at
        self.world.proxies.on_switchover(blue_id, old_id, at)  # proxies follow the name to green

    # -- shapes ------------------------------------------------------------------------------------

    def _describe(self, deployment: _InstanceDeployment) -> dict[str, Any]:
        region = self.region
        member_status = deployment.member_status or deployment.status
        if deployment.status == DELETING:
            member_status = AVAILABLE if deployment.switched_at is None else SWITCHOVER_COMPLETED
        if deployment.status == INVALID_CONFIGURATION:
            member_status = AVAILABLE
        row: dict[str, Any] = {
            "BlueGreenDeploymentIdentifier": deployment.id,
            "BlueGreenDeploymentName": deployment.name,
            "Source": _arn(region, deployment.source_id),
            "Target": _arn(region, deployment.target_id),
            "SwitchoverDetails": [
                {
                    "SourceMember": _arn(region, blue),
                    "TargetMember": _arn(region, green),
                    "Status": self._member_status(blue, green, member_status),
                }
                for blue, green in deployment.members
            ],
            "Tasks": self._tasks(deployment),
            "Status": deployment.status,
            "StatusDetails": deployment.status_details,
            "CreateTime": deployment.created,
            "TagList": [dict(t) for t in deployment.tags],
        }
        if deployment.status == DELETING:
            row["DeleteTime"] = self.world.now()
        return row

    def _member_status(self, blue: str, green: str, status: str) -> str:
        """MISSING_SOURCE / MISSING_TARGET once a member was deleted (SwitchoverDetail.Status, API reference:
        AWS lets a person delete a member; the deployment then shows it)."""
        if self.world.moto.instance(blue) is None:
            return "MISSING_SOURCE"
        if self.world.moto.instance(green) is None:
            return "MISSING_TARGET"
        return status

    def _tasks(self, deployment: _InstanceDeployment) -> list[dict[str, str]]:
        """The tasks of the green build (BlueGreenDeploymentTask names of the API reference), in order."""
        names = ["CREATING_READ_REPLICA_OF_SOURCE"]
        if deployment.upgrading:
            names.append("DB_ENGINE_VERSION_UPGRADE")
        names.append("CONFIGURE_BACKUPS")
        if len(deployment.members) > 1:
            names.append("CREATING_TOPOLOGY_OF_SOURCE")
        total = (deployment.provisioned_at - deployment.created).total_seconds() or 1.0
        done = (self.world.now() - deployment.created).total_seconds() / total
        if deployment.status != PROVISIONING:
            done = 1.0
        tasks = []
        for index, task in enumerate(names):
            start, end = index / len(names), (index + 1) / len(names)
            state = "COMPLETED" if done >= end else ("IN_PROGRESS" if done >= start else "PENDING")
            tasks.append({"Name": task, "Status": state})
        return tasks
