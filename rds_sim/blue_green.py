"""Aurora Blue/Green deployments on the virtual clock, and the deletion of an old blue cluster.

moto has Blue/Green CRUD, but its create answers PROVISIONING while storing AVAILABLE, its
switchover completes inside the call, and its rename of a cluster breaks the cluster's
membership (moto links instances to a cluster by identifier string). So deployments live here,
and their clusters and instances live in moto, created and removed through moto's public API:

* `CreateBlueGreenDeployment` checks what AWS checks (source state, engine prerequisites, a
  Secrets Manager-managed password, target version and parameter-group families, orderable
  classes), creates the green cluster `<id>-green-<6>` and its instances in moto at the target
  version, and reads PROVISIONING for about 40 minutes (green resources `creating`), then
  AVAILABLE;
* a parameter group created or modified under 5 minutes ago is ignored: green gets the family's
  default group instead (AWS asks to wait 5 minutes; the harsher plausible effect, see
  `parameter_groups`); Aurora MySQL with `event_scheduler` ON in green's cluster group ends its
  provisioning INVALID_CONFIGURATION (AWS: it must be off on green; harsher plausible answer);
* green copies blue's deletion protection and tags (Aurora user guide: green copies the source's
  configuration, tags included; docs/aws-behaviour.md, IAM);
* `SwitchoverBlueGreenDeployment` is refused (`InvalidBlueGreenDeploymentStateFault`, nothing
  started) for a few minutes after the deployment first reads AVAILABLE, while the green members
  are not ready (terraform-provider-aws#36241); once accepted it still reads AVAILABLE for a few
  seconds (a second call then is refused with the same code), SWITCHOVER_IN_PROGRESS for tens of
  seconds, then SWITCHOVER_COMPLETED: blue becomes
  `<id>-old1` (instances `<instance>-old1`) and green takes the blue names. moto cannot rename an
  Aurora cluster, so both are recreated under their new names; the switchover fails instead
  (SWITCHOVER_FAILED, nothing renamed) when it would outlast `SwitchoverTimeout` or when a test
  armed `fail_next_switchover`;
* `DeleteBlueGreenDeployment` reads DELETING, with `DeleteTarget` until the green cluster and
  instances (`deleting`) are gone; it is refused while PROVISIONING (unknown on AWS: the harsher
  answer), with `DeleteTarget` at all (even false) once SWITCHOVER_COMPLETED (API reference), and
  with `DeleteTarget=true` while the green cluster has deletion protection (user guide);
* `DeleteDBCluster` refuses a cluster that still has instances, is part of a deployment or is
  protected, takes the final snapshot, and reads `deleting` for a few minutes.

A `Source` that is a DB instance ARN (`:db:`) goes to `blue_green_instances.InstanceBlueGreenSim`
(`sim.blue_green.instances`): RDS for MySQL, MariaDB and PostgreSQL, with the DB-instance-only Target*
settings, which an Aurora source refuses (API reference: they "don't apply to Amazon Aurora"); a Multi-AZ
DB cluster source is refused ("Blue/green deployments aren't supported for ... Multi-AZ DB cluster
deployments", RDS user guide, limitations). Describe, switchover and delete answer both kinds.

Tests can make a deployment INVALID_CONFIGURATION (`invalidate`, `invalidate_next`), a
switchover fail (`fail_next_switchover`) and green stay not ready longer (`delay_green_ready`), for
either kind; `is_read_only` tells an old blue DB instance kept read-only until its deployment is deleted.
`DescribeDBEngineVersions` is answered from the catalogue by `world`.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rds_sim.blue_green_instances import InstanceBlueGreenSim, is_instance_source
from rds_sim.catalogue import AURORA_MYSQL, AURORA_POSTGRESQL
from rds_sim.errors import ApiError, cluster_not_found, cluster_state, not_orderable
from rds_sim.paging import page
from rds_sim.seeding import MASTER_PASSWORD, MASTER_USERNAME
from rds_sim.world_protocol import Kind, World

PROVISIONING = "PROVISIONING"
AVAILABLE = "AVAILABLE"
SWITCHOVER_IN_PROGRESS = "SWITCHOVER_IN_PROGRESS"
SWITCHOVER_COMPLETED = "SWITCHOVER_COMPLETED"
SWITCHOVER_FAILED = "SWITCHOVER_FAILED"
INVALID_CONFIGURATION = "INVALID_CONFIGURATION"
DELETING = "DELETING"

_ACCOUNT = "123456789012"
_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9]|-(?!-))*")
_TASKS = (
    ("CREATING_READ_REPLICA_OF_SOURCE", 0.45),
    ("DB_ENGINE_VERSION_UPGRADE", 0.75),
    ("CONFIGURE_BACKUPS", 0.85),
    ("CREATING_TOPOLOGY_OF_SOURCE", 1.0),
)


@dataclass(frozen=True)
class BlueGreenDurations:
    """Seconds of virtual time (before `time_scale`), each with the timeline's seeded jitter."""

    provision: float = 2400  # green creation: ~40 min for Aurora (Terraform acceptance tests)
    # After it reads AVAILABLE, the green members are not all ready yet for a while: a switchover asked
    # then is refused with InvalidBlueGreenDeploymentStateFault (terraform-provider-aws#36241, which
    # retries it for 10 minutes). Three minutes here.
    green_ready: float = 180
    switchover: float = 45  # SWITCHOVER_IN_PROGRESS
    switchover_lag: float = 5  # AVAILABLE still read right after the call
    delete: float = 60  # DELETING, deployment only
    delete_target: float = 1200  # DELETING with DeleteTarget: the green cluster goes (~20 min)
    cluster_delete: float = 300  # DeleteDBCluster: `deleting` until gone


@dataclass
class _Deployment:
    id: str
    name: str
    source_id: str  # the blue cluster (after switchover: `<id>-old1`)
    target_id: str  # the green cluster (after switchover: the original id)
    target_version: str
    members: list[tuple[str, str]]  # (blue instance, green instance), writer first
    created: datetime
    provisioned_at: datetime
    green_ready_at: datetime  # before it, a switchover is refused although the deployment reads AVAILABLE
    tags: list[dict[str, str]]
    status: str = PROVISIONING
    status_details: str = "Creating the green environment"
    member_status: str | None = None  # per-member SwitchoverDetails status when it differs
    invalid_reason: str | None = None  # INVALID_CONFIGURATION at the end of provisioning
    switchover_visible_at: datetime | None = None
    switchover_ends_at: datetime | None = None
    switchover_fails: str | None = None
    delete_ends_at: datetime | None = None
    delete_target: bool = False
    switched_at: datetime | None = None
    history: list[str] = field(default_factory=list)


def _arn(region: str, kind: str, name: str) -> str:
    return f"arn:aws:rds:{region}:{_ACCOUNT}:{kind}:{name}"


def _last(arn_or_id: str) -> str:
    return arn_or_id.rsplit(":", 1)[-1]


def _green_name(base: str, suffix: str) -> str:
    tail = f"-green-{suffix}"
    return base[: 63 - len(tail)].rstrip("-") + tail


def _not_found(identifier: str) -> ApiError:
    return ApiError("BlueGreenDeploymentNotFoundFault", f"BlueGreenDeployment {identifier} not found.", 404)


def _bad_state(identifier: str, message: str) -> ApiError:
    return ApiError("InvalidBlueGreenDeploymentStateFault", f"Blue/green deployment {identifier}: {message}")


class BlueGreenSim:
    """The Blue/Green calls (and DeleteDBCluster) of one simulated region (`sim.blue_green`)."""

    def __init__(self, world: World, durations: BlueGreenDurations | None = None) -> None:
        self.world = world
        self.durations = durations or BlueGreenDurations()
        self._deployments: dict[str, _Deployment] = {}
        self._cluster_deletes: dict[str, datetime] = {}
        self._count = 0
        self._fail_next: str | None = None
        self._invalid_next: str | None = None
        # Deployments whose Source is a DB instance (RDS for MySQL, MariaDB, PostgreSQL).
        self.instances = InstanceBlueGreenSim(world)

    def handlers(self) -> dict[str, Any]:
        return {
            "CreateBlueGreenDeployment": self.create_blue_green_deployment,
            "DescribeBlueGreenDeployments": self.describe_blue_green_deployments,
            "SwitchoverBlueGreenDeployment": self.switchover_blue_green_deployment,
            "DeleteBlueGreenDeployment": self.delete_blue_green_deployment,
            "DeleteDBCluster": self.delete_db_cluster,
        }

    @property
    def region(self) -> str:
        return self.world.moto.region

    # -- faults and views (tests) ----------------------------------------------------------------

    def fail_next_switchover(
        self, reason: str = "Switchover was rolled back: replica lag on the green environment exceeded the limit"
    ) -> None:
        """The next switchover ends SWITCHOVER_FAILED with this `StatusDetails`; nothing is renamed."""
        self._fail_next = reason

    def invalidate_next(self, reason: str = "Replication degraded: unsupported DDL on the blue environment") -> None:
        """The next deployment created ends its provisioning INVALID_CONFIGURATION instead of AVAILABLE."""
        self._invalid_next = reason

    def delay_green_ready(self, seconds: float) -> None:
        """The green members of every deployment not yet switched over stay not ready for `seconds` more
        (switchovers are refused with InvalidBlueGreenDeploymentStateFault until then)."""
        until = self.world.now() + timedelta(seconds=seconds)
        for deployment in self._deployments.values():
            if deployment.switched_at is None:
                deployment.green_ready_at = max(deployment.green_ready_at, until)
        self.instances.delay_green_ready(until)

    def invalidate(self, cluster_id: str, reason: str = "Replication degraded") -> None:
        """The deployment whose blue (or green) cluster, or blue (or green) DB instance, is `cluster_id`
        turns INVALID_CONFIGURATION now."""
        self.settle()
        for deployment in self._deployments.values():
            if cluster_id in (deployment.source_id, deployment.target_id) and deployment.status in (
                PROVISIONING,
                AVAILABLE,
            ):
                deployment.status = INVALID_CONFIGURATION
                deployment.status_details = reason
                return
        if self.instances.invalidate(cluster_id, reason):
            return
        raise KeyError(f"no deployment in progress for {cluster_id!r}")

    def deployments(self) -> list[dict[str, Any]]:
        """Every deployment as DescribeBlueGreenDeployments shows it now (not recorded as a call)."""
        self.settle()
        return [self._describe(d) for d in self._deployments.values()] + [
            self.instances.describe(d) for d in self.instances.all()
        ]

    def cluster_exists(self, cluster_id: str) -> bool:
        """True until a deletion ends (a cluster still `deleting` exists)."""
        self.world.settle()
        return self.world.moto.cluster(cluster_id) is not None

    def is_active_source(self, cluster_id: str) -> bool:
        """The cluster (or DB instance) is the blue side of a deployment that has not switched over."""
        return any(
            d.source_id == cluster_id and d.status not in (SWITCHOVER_COMPLETED, DELETING)
            for d in self._deployments.values()
        ) or any(
            d.source_id == cluster_id and d.status not in (SWITCHOVER_COMPLETED, DELETING) for d in self.instances.all()
        )

    # -- overlays read by `world` ------------------------------------------------------------

    def cluster_status(self, cluster_id: str) -> str | None:
        if cluster_id in self._cluster_deletes:
            return "deleting"
        return self._green_status(lambda d: d.target_id == cluster_id)

    def instance_status(self, instance_id: str) -> str | None:
        aurora = self._green_status(lambda d: any(green == instance_id for _, green in d.members))
        return aurora or self.instances.instance_status(instance_id)

    def is_read_only(self, instance_id: str) -> bool:
        """An old blue DB instance after a switchover, until its deployment is deleted (FIELD_NOTES 5.1)."""
        self.world.settle()
        return self.instances.is_read_only(instance_id)

    def _green_status(self, holds: Callable[[_Deployment], bool]) -> str | None:
        """A green resource's status while its deployment builds it or deletes it with DeleteTarget."""
        for deployment in self._deployments.values():
            if not holds(deployment):
                continue
            if deployment.status == PROVISIONING:
                return "creating"
            if deployment.status == DELETING and deployment.delete_target:
                return "deleting"
        return None

    # -- time --------------------------------------------------------------------------------

    def _span(self, name: str, key: str) -> timedelta:
        base = float(getattr(self.durations, name)) * self.world.timeline.time_scale
        jitter = max(0.0, min(self.world.timeline.durations.jitter, 0.1))
        seed = self.world.timeline.seed
        draw = random.Random(f"{seed}|{key}|bg-{name}").uniform(-jitter, jitter) if jitter else 0.0
        return timedelta(seconds=max(0.0, base * (1.0 + draw)))

    def settle(self) -> None:
        """Apply every deployment event due by now, oldest first."""
        now = self.world.clock.now()
        while True:
            due: list[tuple[datetime, int, str, str]] = []
            for order, deployment in enumerate(self._deployments.values()):
                if deployment.status == PROVISIONING and deployment.provisioned_at <= now:
                    due.append((deployment.provisioned_at, order, "provisioned", deployment.id))
                if (
                    deployment.switchover_visible_at is not None
                    and deployment.switchover_visible_at <= now
                    and deployment.status in (AVAILABLE, SWITCHOVER_FAILED)
                ):
                    due.append((deployment.switchover_visible_at, order, "switching", deployment.id))
                if (
                    deployment.status == SWITCHOVER_IN_PROGRESS
                    and deployment.switchover_ends_at is not None
                    and deployment.switchover_ends_at <= now
                ):
                    due.append((deployment.switchover_ends_at, order, "switched", deployment.id))
                if deployment.status == DELETING and deployment.delete_ends_at and deployment.delete_ends_at <= now:
                    due.append((deployment.delete_ends_at, order, "deleted", deployment.id))
            for cluster_id, ends_at in self._cluster_deletes.items():
                if ends_at <= now:
                    due.append((ends_at, len(self._deployments), "cluster_deleted", cluster_id))
            if not due:
                break
            at, _, event, key = min(due)
            self._apply(event, key, at)
        self.instances.settle()

    def _apply(self, event: str, key: str, at: datetime) -> None:
        if event == "cluster_deleted":
            del self._cluster_deletes[key]
            if self.world.moto.cluster(key) is not None:
                self.world.moto.call("DeleteDBCluster", {"DBClusterIdentifier": key, "SkipFinalSnapshot": True})
            return
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
                self._remove_cluster(deployment.target_id, [green for _, green in deployment.members])

    # -- the API -------------------------------------------------------------------------------

    def create_blue_green_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("BlueGreenDeploymentName", ""))
        if not (0 < len(name) <= 60 and _NAME.fullmatch(name) and not name.endswith("-")):
            raise ApiError(
                "InvalidParameterValue",
                "The parameter BlueGreenDeploymentName is not a valid identifier: 1 to 60 letters, digits or "
                "hyphens, starting with a letter, no trailing or double hyphen.",
            )
        if any(d.name == name for d in self._deployments.values()):
            raise ApiError(
                "BlueGreenDeploymentAlreadyExistsFault", f"A blue/green deployment named {name} already exists."
            )
        if any(d.name == name for d in self.instances.all()):
            raise ApiError(
                "BlueGreenDeploymentAlreadyExistsFault", f"A blue/green deployment named {name} already exists."
            )
        source = str(params.get("Source", ""))
        if source.startswith("arn:aws:rds:") and is_instance_source(source):
            return self.instances.create(params, name, self._take_invalid_next)
        if not source.startswith("arn:aws:rds:") or ":cluster:" not in source:
            raise ApiError("InvalidParameterValue", f"Source must be the ARN of a DB cluster: {source}")
        cluster_id = _last(source)
        cluster = self.world.moto.cluster(cluster_id)
        if cluster is None:
            raise ApiError("SourceClusterNotFoundFault", f"The source DB cluster {cluster_id} was not found.", 404)
        self._refuse_instance_settings(params, cluster_id, cluster)
        self._check_source(cluster_id, cluster)
        engine = str(cluster["Engine"])
        current = str(cluster["EngineVersion"])
        target_version = str(params.get("TargetEngineVersion") or current)
        catalogue = self.world.catalogue
        if target_version != current and target_version not in [
            t.engine_version for t in catalogue.upgrade_targets(engine, current)
        ]:
            raise ApiError(
                "InvalidParameterCombination",
                f"Cannot upgrade {engine} from {current} to {target_version}.",
            )
        major = catalogue.major(engine, target_version) != catalogue.major(engine, current)
        family = catalogue.family(engine, target_version)
        instances = self._members(cluster_id, cluster)
        cluster_group = self._target_group(
            "cluster",
            params.get("TargetDBClusterParameterGroupName"),
            str(cluster["DBClusterParameterGroup"]),
            family,
            major,
        )
        blue_groups = {i: _instance_group(data) for i, data in instances}
        explicit_instance_group = params.get("TargetDBParameterGroupName")
        instance_groups = {
            i: self._target_group("instance", explicit_instance_group, group, family, major)
            for i, group in blue_groups.items()
        }
        # A group created or modified less than 5 minutes ago is used too early (AWS asks to wait): the
        # harsher plausible answer, green silently gets the family's default group instead.
        groups = self.world.parameter_groups
        if groups.is_young("cluster", cluster_group):
            cluster_group = f"default.{family}"
        instance_groups = {
            i: f"default.{family}" if groups.is_young("instance", g) else g for i, g in instance_groups.items()
        }
        invalid_reason = self._invalid_next
        scheduler = groups.value("cluster", cluster_group, "event_scheduler")
        if engine == AURORA_MYSQL and str(scheduler or "OFF").upper() == "ON":
            # "The Event Scheduler (event_scheduler parameter) must be disabled on the green environment when
            # you create a blue/green deployment" (Aurora user guide, Blue/Green limitations). What AWS does
            # otherwise is not documented: the harsher plausible answer, the deployment is built for ~40
            # minutes and ends INVALID_CONFIGURATION, so it can only be deleted.
            invalid_reason = (
                f"Events generated on the green environment break replication: event_scheduler is ON in the DB "
                f"cluster parameter group {cluster_group}"
            )
        for _, data in instances:
            instance_class = str(data["DBInstanceClass"])
            if not catalogue.is_orderable(engine, target_version, instance_class):
                raise not_orderable(instance_class, engine, target_version, catalogue.license_model(engine))

        self._count += 1
        names = random.Random(f"{self.world.timeline.seed}|bg|{self._count}")
        suffix = "".join(names.choices(string.ascii_lowercase + string.digits, k=6))
        deployment_id = "bgd-" + "".join(names.choices(string.ascii_lowercase + string.digits, k=16))
        green_id = _green_name(cluster_id, suffix)
        self._create_cluster(cluster, green_id, target_version, cluster_group)
        members: list[tuple[str, str]] = []
        for instance_id, data in instances:
            green_instance = _green_name(instance_id, suffix)
            self._create_instance(data, green_instance, green_id, instance_groups[instance_id])
            members.append((instance_id, green_instance))
        now = self.world.now()
        provisioned_at = now + self._span("provision", deployment_id)
        deployment = _Deployment(
            id=deployment_id,
            name=name,
            source_id=cluster_id,
            target_id=green_id,
            target_version=target_version,
            members=members,
            created=now,
            provisioned_at=provisioned_at,
            green_ready_at=provisioned_at + self._span("green_ready", deployment_id),
            tags=[dict(t) for t in params.get("Tags") or []],
            invalid_reason=invalid_reason,
        )
        self._invalid_next = None
        self._deployments[deployment_id] = deployment
        return {"BlueGreenDeployment": self._describe(deployment)}

    def _take_invalid_next(self) -> str | None:
        reason, self._invalid_next = self._invalid_next, None
        return reason

    def _take_fail_next(self) -> str | None:
        reason, self._fail_next = self._fail_next, None
        return reason

    def _refuse_instance_settings(self, params: dict[str, Any], cluster_id: str, cluster: dict[str, Any]) -> None:
        """What AWS does not take for a DB cluster source: Multi-AZ DB clusters ("Blue/green deployments
        aren't supported for ... Multi-AZ DB cluster deployments", RDS user guide, limitations) and the
        DB-instance-only Target* settings ("This setting doesn't apply to Amazon Aurora blue/green
        deployments", "don't specify this parameter" for TargetDBInstanceClass; API reference)."""
        if cluster.get("DBClusterInstanceClass") and not str(cluster.get("Engine", "")).startswith("aurora"):
            raise ApiError(
                "SourceClusterNotSupportedFault",
                f"DB cluster {cluster_id} is a Multi-AZ DB cluster: blue/green deployments aren't supported for "
                "Multi-AZ DB clusters.",
            )
        keys = (
            "TargetDBInstanceClass",
            "TargetStorageType",
            "TargetIops",
            "TargetStorageThroughput",
            "TargetAllocatedStorage",
            "UpgradeTargetStorageConfig",
        )
        given = [k for k in keys if params.get(k) is not None]
        if given:
            raise ApiError(
                "InvalidParameterCombination",
                f"{', '.join(given)} can't be specified for an Aurora DB cluster source; they apply to RDS DB "
                "instances only. Modify the green DB cluster's instances after the deployment is created.",
            )

    def describe_blue_green_deployments(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("BlueGreenDeploymentIdentifier")
        filters = {str(f["Name"]): [str(v) for v in f.get("Values", [])] for f in params.get("Filters") or []}
        rows = []
        for deployment in self._deployments.values():
            if wanted and deployment.id != wanted:
                continue
            if not self._passes(deployment, filters):
                continue
            rows.append(self._describe(deployment))
        for instance_deployment in self.instances.all():
            if wanted and instance_deployment.id != wanted:
                continue
            if not self.instances.passes(instance_deployment, filters):
                continue
            rows.append(self.instances.describe(instance_deployment))
        if wanted and not rows:
            raise _not_found(str(wanted))
        return page(rows, params, "BlueGreenDeployments")

    def switchover_blue_green_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        identifier = str(params.get("BlueGreenDeploymentIdentifier", ""))
        if self.instances.holds(identifier):
            return self.instances.switchover(params, self._take_fail_next)
        deployment = self._deployment(identifier)
        timeout = int(params.get("SwitchoverTimeout") or 300)
        if timeout < 30:
            raise ApiError("InvalidParameterValue", "SwitchoverTimeout must be at least 30 seconds.")
        if deployment.switchover_visible_at is not None or deployment.status == SWITCHOVER_IN_PROGRESS:
            raise _bad_state(identifier, "a switchover is already in progress.")
        if deployment.status not in (AVAILABLE, SWITCHOVER_FAILED):
            raise _bad_state(identifier, f"the deployment is {deployment.status}, not AVAILABLE.")
        if self.world.now() < deployment.green_ready_at:
            # AWS refuses while green members are not ready, though the deployment reads AVAILABLE; nothing
            # is started (terraform-provider-aws#36241, terraform-aws-rds#529).
            raise _bad_state(identifier, "the green environment members are not in available state.")
        for cluster_id in (deployment.source_id, deployment.target_id):
            status = self.world.cluster_status(cluster_id)
            if status != "available":
                raise cluster_state(f"DB cluster {cluster_id} is {status}; switchover needs it available.")
        now = self.world.now()
        occurrence = f"{deployment.id}|{len(deployment.history)}"
        deployment.history.append(f"switchover requested at {now.isoformat()}")
        deployment.switchover_visible_at = now + self._span("switchover_lag", occurrence)
        duration = self._span("switchover", occurrence)
        deployment.switchover_ends_at = deployment.switchover_visible_at + duration
        if self._fail_next:
            deployment.switchover_fails = self._fail_next
            self._fail_next = None
        elif duration.total_seconds() > timeout:
            deployment.switchover_fails = (
                f"Switchover timed out after {timeout} seconds (SwitchoverTimeout); all changes were rolled back"
            )
        return {"BlueGreenDeployment": self._describe(deployment)}

    def delete_blue_green_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        identifier = str(params.get("BlueGreenDeploymentIdentifier", ""))
        if self.instances.holds(identifier):
            return self.instances.delete(params)
        deployment = self._deployment(identifier)
        delete_target = bool(params.get("DeleteTarget"))
        if deployment.switchover_visible_at is not None or deployment.status == SWITCHOVER_IN_PROGRESS:
            raise _bad_state(identifier, "a switchover is in progress; delete the deployment after it ends.")
        if deployment.status == DELETING:
            raise _bad_state(identifier, "the deployment is already being deleted.")
        if deployment.status == PROVISIONING:
            # Unknown on AWS whether a deployment can be deleted while its green environment is being built:
            # the harsher answer, refused until provisioning ends (docs/aws-behaviour.md).
            raise _bad_state(identifier, "the green environment is still being created; try again later.")
        if "DeleteTarget" in params and deployment.status == SWITCHOVER_COMPLETED:
            # "You can't specify this option if the blue/green deployment status is SWITCHOVER_COMPLETED"
            # (DeleteBlueGreenDeployment API reference): refused even as DeleteTarget=false.
            raise ApiError(
                "InvalidParameterCombination",
                "You can't specify DeleteTarget when the blue/green deployment status is SWITCHOVER_COMPLETED.",
            )
        green = self.world.moto.cluster(deployment.target_id) if delete_target else None
        if green is not None and green.get("DeletionProtection"):
            # "If you choose to delete the DB cluster in the green environment (--delete-target), it must have
            # deletion protection turned off" (Aurora user guide, Deleting a blue/green deployment); the error
            # is DeleteDBCluster's for a protected cluster.
            raise ApiError(
                "InvalidParameterCombination",
                f"Cannot delete protected Cluster {deployment.target_id} in the green environment, please disable "
                "deletion protection and try again.",
            )
        deployment.status = DELETING
        deployment.status_details = "Deleting the blue/green deployment"
        deployment.delete_target = delete_target
        deployment.delete_ends_at = self.world.now() + self._span(
            "delete_target" if delete_target else "delete", deployment.id
        )
        return {"BlueGreenDeployment": self._describe(deployment)}

    def delete_db_cluster(self, params: dict[str, Any]) -> dict[str, Any]:
        cluster_id = str(params.get("DBClusterIdentifier", ""))
        cluster = self.world.moto.cluster(cluster_id)
        if cluster is None:
            raise cluster_not_found(cluster_id)
        if cluster_id in self._cluster_deletes:
            raise cluster_state(f"DB cluster {cluster_id} is already being deleted.")
        for deployment in self._deployments.values():
            if cluster_id in (deployment.source_id, deployment.target_id):
                raise cluster_state(
                    f"DB cluster {cluster_id} is part of blue/green deployment {deployment.id}; delete the "
                    "deployment first."
                )
        status = self.world.cluster_status(cluster_id)
        if status != "available":
            raise cluster_state(f"DB cluster {cluster_id} is not in available state (it is {status}).")
        if cluster.get("DeletionProtection"):
            raise ApiError(
                "InvalidParameterCombination",
                "Cannot delete protected Cluster, please disable deletion protection and try again.",
            )
        members = [str(m["DBInstanceIdentifier"]) for m in cluster.get("DBClusterMembers") or []]
        if members:
            statuses = {m: self.world.instance_status(m) for m in members}
            if any(s != "deleting" for s in statuses.values()):
                raise cluster_state("Cluster cannot be deleted, it still contains DB instances in non-deleting state.")
            # AWS accepts once every instance is deleting; the simulator waits until they are gone.
            raise cluster_state(f"Cluster cannot be deleted yet, its DB instances are being deleted: {members}.")
        snapshot = params.get("FinalDBSnapshotIdentifier")
        if not params.get("SkipFinalSnapshot"):
            if not snapshot:
                raise ApiError(
                    "InvalidParameterCombination",
                    "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.",
                )
            self.world.moto.call(
                "CreateDBClusterSnapshot",
                {"DBClusterIdentifier": cluster_id, "DBClusterSnapshotIdentifier": str(snapshot)},
            )
        self._cluster_deletes[cluster_id] = self.world.now() + self._span("cluster_delete", cluster_id)
        return {"DBCluster": self.world.overlay_cluster(cluster)}

    # -- checks ----------------------------------------------------------------------------------

    def _check_source(self, cluster_id: str, cluster: dict[str, Any]) -> None:
        for deployment in self._deployments.values():
            if cluster_id in (deployment.source_id, deployment.target_id) and deployment.status != DELETING:
                raise cluster_state(
                    f"DB cluster {cluster_id} is already part of blue/green deployment {deployment.id}."
                )
        status = self.world.cluster_status(cluster_id)
        if status != "available":
            raise cluster_state(f"DB cluster {cluster_id} is not in available state (it is {status}).")
        if cluster.get("MasterUserSecret"):
            raise ApiError(
                "SourceClusterNotSupportedFault",
                f"The source DB cluster {cluster_id} manages its master user password with AWS Secrets Manager, "
                "which blue/green deployments don't support.",
            )
        writer = next(
            (str(m["DBInstanceIdentifier"]) for m in cluster.get("DBClusterMembers") or [] if m.get("IsClusterWriter")),
            None,
        )
        if writer is None:
            raise cluster_state(f"DB cluster {cluster_id} has no writer instance.")
        for member in cluster.get("DBClusterMembers") or []:
            member_id = str(member["DBInstanceIdentifier"])
            if self.world.instance_status(member_id) != "available":
                raise ApiError(
                    "InvalidDBInstanceState", f"DB instance {member_id} is not available for a blue/green deployment."
                )
        engine = str(cluster["Engine"])
        group = str(cluster.get("DBClusterParameterGroup") or "")
        groups = self.world.parameter_groups
        sync = self.world.overlay_cluster(cluster)
        writer_status = next(
            (
                m.get("DBClusterParameterGroupStatus")
                for m in sync.get("DBClusterMembers") or []
                if m.get("DBInstanceIdentifier") == writer
            ),
            "in-sync",
        )
        if engine == AURORA_POSTGRESQL and groups.value("cluster", group, "rds.logical_replication") != "1":
            raise ApiError(
                "SourceClusterNotSupportedFault",
                f"Correct the prerequisites: the DB cluster parameter group {group} must set "
                "rds.logical_replication to 1 for a blue/green deployment.",
            )
        binlog = (groups.value("cluster", group, "binlog_format") or "OFF").upper()
        if engine == AURORA_MYSQL and binlog == "OFF":
            raise ApiError(
                "SourceClusterNotSupportedFault",
                f"Correct the prerequisites: binary logging (binlog_format) must be enabled in {group}.",
            )
        if writer_status != "in-sync":
            raise ApiError(
                "SourceClusterNotSupportedFault",
                f"Correct the prerequisites: the writer {writer} must be in sync with the DB cluster parameter "
                f"group {group} (it is {writer_status}); reboot it.",
            )

    def _target_group(self, kind: Kind, explicit: Any, blue_group: str, family: str, major: bool) -> str:
        groups = self.world.parameter_groups
        if explicit:
            name = str(explicit)
            found = groups.group(kind, name)
            if found is None:
                code = "DBClusterParameterGroupNotFound" if kind == "cluster" else "DBParameterGroupNotFound"
                raise ApiError(
                    code,
                    f"{'DBClusterParameterGroup' if kind == 'cluster' else 'DBParameterGroup'} {name} not found.",
                    404,
                )
            if found["DBParameterGroupFamily"] != family:
                raise ApiError(
                    "InvalidParameterCombination",
                    f"The parameter group {name} with DBParameterGroupFamily {found['DBParameterGroupFamily']} "
                    f"can't be used for this instance. Use a parameter group with DBParameterGroupFamily {family}.",
                )
            return name
        if blue_group and not major:
            return blue_group
        return f"default.{family}"  # AWS falls back to the new family's defaults

    def _members(self, cluster_id: str, cluster: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        instances = self.world.moto.cluster_instances(cluster_id)
        ordered = sorted(
            cluster.get("DBClusterMembers") or [],
            key=lambda m: (not m.get("IsClusterWriter"), m["DBInstanceIdentifier"]),
        )
        return [(str(m["DBInstanceIdentifier"]), instances[str(m["DBInstanceIdentifier"])]) for m in ordered]

    # -- resources in moto ---------------------------------------------------------------------

    def _create_cluster(self, source: dict[str, Any], cluster_id: str, version: str, group: str) -> None:
        storage = source.get("StorageType")
        params: dict[str, Any] = {
            "DBClusterIdentifier": cluster_id,
            "Engine": source["Engine"],
            "EngineVersion": version,
            "MasterUsername": source.get("MasterUsername") or MASTER_USERNAME,
            "MasterUserPassword": MASTER_PASSWORD,
            "StorageType": storage if storage in ("aurora", "aurora-iopt1") else "aurora",
            "AllocatedStorage": 1,
            "DBClusterParameterGroupName": group,
            "DeletionProtection": bool(source.get("DeletionProtection")),
            "Tags": [dict(t) for t in source.get("TagList") or []],
        }
        if source.get("ServerlessV2ScalingConfiguration"):
            params["ServerlessV2ScalingConfiguration"] = source["ServerlessV2ScalingConfiguration"]
        self.world.moto.call("CreateDBCluster", params)

    def _create_instance(self, source: dict[str, Any], instance_id: str, cluster_id: str, group: str) -> None:
        params: dict[str, Any] = {
            "DBInstanceIdentifier": instance_id,
            "DBClusterIdentifier": cluster_id,
            "Engine": source["Engine"],
            "DBInstanceClass": source["DBInstanceClass"],
            "PromotionTier": int(source.get("PromotionTier", 1)),
            "DBParameterGroupName": group,
            "Tags": [dict(t) for t in source.get("TagList") or []],
        }
        if source.get("AvailabilityZone"):
            params["AvailabilityZone"] = source["AvailabilityZone"]
        self.world.moto.call("CreateDBInstance", params)

    def _remove_cluster(self, cluster_id: str, instance_ids: list[str]) -> None:
        for instance_id in instance_ids:
            if self.world.moto.instance(instance_id) is not None:
                self.world.moto.call(
                    "DeleteDBInstance", {"DBInstanceIdentifier": instance_id, "SkipFinalSnapshot": True}
                )
        if self.world.moto.cluster(cluster_id) is not None:
            self.world.moto.call(
                "ModifyDBCluster",
                {"DBClusterIdentifier": cluster_id, "DeletionProtection": False, "ApplyImmediately": True},
            )
            self.world.moto.call("DeleteDBCluster", {"DBClusterIdentifier": cluster_id, "SkipFinalSnapshot": True})
        self._drop_automated_snapshots(cluster_id)

    def _drop_automated_snapshots(self, cluster_id: str) -> None:
        """moto names a new cluster's automated snapshot `rds:<id>-<minute>` and keeps it after the
        cluster is deleted, so recreating the same id within a minute would collide: drop them."""
        found = self.world.moto.call(
            "DescribeDBClusterSnapshots", {"DBClusterIdentifier": cluster_id, "SnapshotType": "automated"}
        )
        for snapshot in found.get("DBClusterSnapshots", []):
            self.world.moto.call(
                "DeleteDBClusterSnapshot", {"DBClusterSnapshotIdentifier": snapshot["DBClusterSnapshotIdentifier"]}
            )

    def _swap(self, deployment: _Deployment, at: datetime) -> None:
        """Blue becomes `<id>-old1`, green takes the blue names (recreated: moto cannot rename)."""
        moto = self.world.moto
        blue_id, green_id = deployment.source_id, deployment.target_id
        old_id = f"{blue_id}-old1"
        n = 1
        while moto.cluster(old_id) is not None:
            n += 1
            old_id = f"{blue_id}-old{n}"
        blue = moto.cluster(blue_id) or {}
        green = moto.cluster(green_id) or {}
        blue_instances = moto.cluster_instances(blue_id)
        green_instances = moto.cluster_instances(green_id)
        self._remove_cluster(green_id, list(green_instances))
        self._remove_cluster(blue_id, list(blue_instances))
        self._create_cluster(blue, old_id, str(blue["EngineVersion"]), str(blue["DBClusterParameterGroup"]))
        self._create_cluster(green, blue_id, str(green["EngineVersion"]), str(green["DBClusterParameterGroup"]))
        renamed: list[tuple[str, str]] = []
        for blue_instance, green_instance in deployment.members:
            old_instance = f"{blue_instance}-old{n}"
            if blue_instance in blue_instances:
                data = blue_instances[blue_instance]
                self._create_instance(data, old_instance, old_id, _instance_group(data))
            if green_instance in green_instances:
                data = green_instances[green_instance]
                self._create_instance(data, blue_instance, blue_id, _instance_group(data))
            self.world.rename_parameter_status(blue_instance, old_instance)
            self.world.rename_parameter_status(green_instance, blue_instance)
            renamed.append((old_instance, blue_instance))
        for protected, source in ((old_id, blue), (blue_id, green)):
            if source.get("DeletionProtection"):
                moto.call(
                    "ModifyDBCluster",
                    {"DBClusterIdentifier": protected, "DeletionProtection": True, "ApplyImmediately": True},
                )
        deployment.source_id = old_id
        deployment.target_id = blue_id
        deployment.members = renamed
        deployment.status = SWITCHOVER_COMPLETED
        deployment.status_details = "Switchover completed"
        deployment.member_status = None
        deployment.switched_at = at
        self.world.proxies.on_switchover(blue_id, old_id, at)

    # -- shapes ------------------------------------------------------------------------------------

    def _describe(self, deployment: _Deployment) -> dict[str, Any]:
        region = self.region
        member_status = deployment.member_status or deployment.status
        if deployment.status == DELETING:
            member_status = AVAILABLE if deployment.switched_at is None else SWITCHOVER_COMPLETED
        details = [
            {
                "SourceMember": _arn(region, "cluster", deployment.source_id),
                "TargetMember": _arn(region, "cluster", deployment.target_id),
                "Status": member_status,
            }
        ]
        details += [
            {
                "SourceMember": _arn(region, "db", blue),
                "TargetMember": _arn(region, "db", green),
                "Status": member_status,
            }
            for blue, green in deployment.members
        ]
        row: dict[str, Any] = {
            "BlueGreenDeploymentIdentifier": deployment.id,
            "BlueGreenDeploymentName": deployment.name,
            "Source": _arn(region, "cluster", deployment.source_id),
            "Target": _arn(region, "cluster", deployment.target_id),
            "SwitchoverDetails": details,
            "Tasks": self._tasks(deployment),
            "Status": deployment.status,
            "StatusDetails": deployment.status_details,
            "CreateTime": deployment.created,
            "TagList": [dict(t) for t in deployment.tags],
        }
        if deployment.status == DELETING and deployment.delete_ends_at:
            row["DeleteTime"] = self.world.now()
        return row

    def _tasks(self, deployment: _Deployment) -> list[dict[str, str]]:
        total = (deployment.provisioned_at - deployment.created).total_seconds() or 1.0
        done = (self.world.now() - deployment.created).total_seconds() / total
        if deployment.status != PROVISIONING:
            done = 1.0
        tasks = []
        start = 0.0
        for name, end in _TASKS:
            state = "COMPLETED" if done >= end else ("IN_PROGRESS" if done >= start else "PENDING")
            tasks.append({"Name": name, "Status": state})
            start = end
        return tasks

    def _passes(self, deployment: _Deployment, filters: dict[str, list[str]]) -> bool:
        region = self.region
        values = {
            "blue-green-deployment-identifier": {deployment.id},
            "blue-green-deployment-name": {deployment.name},
            "source": {deployment.source_id, _arn(region, "cluster", deployment.source_id)},
            "target": {deployment.target_id, _arn(region, "cluster", deployment.target_id)},
        }
        for name, accepted in filters.items():
            if name not in values:
                raise ApiError("InvalidParameterValue", f"Unrecognized filter name: {name}")
            if not values[name] & set(accepted):
                return False
        return True

    def _deployment(self, identifier: str) -> _Deployment:
        deployment = self._deployments.get(identifier)
        if deployment is None:
            raise _not_found(identifier)
        return deployment


def _instance_group(data: dict[str, Any]) -> str:
    groups = data.get("DBParameterGroups") or [{}]
    return str(groups[0].get("DBParameterGroupName") or "")
