"""Aurora's behaviour over moto's resources: refusals, lags, transitional statuses, failovers.

moto stores what exists (instances, tags, tiers, zones, the current writer) but answers every
status as `available` and applies every change at once. This module keeps the time-dependent
part Aurora adds on top and *overlays* it on moto's answers:

* a change Aurora accepts is scheduled on the `Timeline`; its effect reaches moto only when
  it ends (a new class, a flipped writer, a deleted instance);
* until then, statuses, pending values and refusals follow from the open transitions;
* everything due is settled, in time order, before any call or view is answered.

The rule of thumb is "at least as hard on the engine as AWS": when AWS's behaviour is
uncertain, the simulator refuses rather than accepts, and reports late rather than early.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from rds_sim import reference
from rds_sim.blue_green import BlueGreenSim
from rds_sim.catalogue import Catalogue, class_rank
from rds_sim.clock import VirtualClock
from rds_sim.db_instances import DbInstanceSim
from rds_sim.errors import (
    ApiError,
    cluster_not_found,
    cluster_state,
    instance_not_found,
    instance_state,
    not_orderable,
)
from rds_sim.faults import Faults
from rds_sim.maintenance import MaintenanceSim
from rds_sim.moto_backend import MotoRds
from rds_sim.multi_az import MultiAzClusterSim
from rds_sim.parameter_groups import ParameterGroupSim
from rds_sim.proxies import ProxySim
from rds_sim.timeline import Kind, Timeline, Transition

INSTANCE_KINDS: tuple[Kind, ...] = ("create", "modify", "reboot", "delete")
CLUSTER_KINDS: tuple[Kind, ...] = ("failover",)
STORAGE_KINDS: tuple[Kind, ...] = ("storage",)
AURORA_STORAGE_TYPES = ("aurora", "aurora-iopt1")
IO_OPTIMIZED = "aurora-iopt1"
STANDARD = "aurora"
IO_OPTIMIZED_COOLDOWN = timedelta(days=30)  # one switch *to* I/O-Optimized every 30 days
ACCOUNT = "123456789012"
AVAILABLE = "available"
IN_SYNC = "in-sync"
PENDING_REBOOT = "pending-reboot"
# What CreateDBInstance gives an Aurora instance for a setting it omits (CreateDBInstance API reference:
# "If DBSubnetGroup isn't specified, PubliclyAccessible defaults to false for Aurora instances"; the CA is
# the region's default for new instances, rds-ca-rsa2048-g1 since 2024 (RDS user guide, "Using SSL/TLS",
# and ModifyCertificates); Enhanced Monitoring off (MonitoringInterval 0); Performance Insights off, with
# 7 days' retention and the account's aws/rds key once enabled (CreateDBInstance reference). None of these
# is copied from the cluster or its writer.
DEFAULT_CA = "rds-ca-rsa2048-g1"
PI_DEFAULT_RETENTION = 7

_IDENTIFIER = re.compile(r"[A-Za-z](?:[A-Za-z0-9]|-(?!-))*")
_BAD_IDENTIFIER = (
    "The parameter DBInstanceIdentifier is not a valid identifier. Identifiers must begin with a letter; "
    "must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two "
    "consecutive hyphens."
)

Response = dict[str, Any]
Handler = Callable[[dict[str, Any]], Response]


def valid_identifier(identifier: str) -> bool:
    """1-63 chars, a letter first, letters/digits/hyphens, no double or trailing hyphen."""
    return 0 < len(identifier) <= 63 and _IDENTIFIER.fullmatch(identifier) is not None and not identifier.endswith("-")


class AuroraWorld:
    """One region of one simulated account: the API semantics, answered at the clock's time."""

    def __init__(
        self, clock: VirtualClock, moto: MotoRds, timeline: Timeline, faults: Faults, catalogue: Catalogue
    ) -> None:
        self.clock = clock
        self.moto = moto
        self.timeline = timeline
        self.faults = faults
        self.catalogue = catalogue
        self._parameter_status: dict[str, str] = {}
        self._maintenance_class: dict[str, str] = {}  # class changes left for a maintenance window
        self._event_time: datetime | None = None
        self._io_next_allowed: dict[str, datetime] = {}  # IOOptimizedNextAllowedModificationTime
        self._events: list[dict[str, Any]] = []  # what DescribeEvents answers, oldest first
        self._performance_insights: dict[str, dict[str, Any]] = {}  # moto keeps none of it
        # Instances whose creation ended in a failure status (`failed`, `incompatible-parameters`, ...):
        # AWS never makes them available again by themselves; they can only be deleted.
        self._failed: dict[str, str] = {}
        # engine_upgrade: parameter groups, RDS Proxy, Blue/Green deployments (and DeleteDBCluster),
        # pending maintenance; each module answers its own calls and overlays its own statuses.
        self.parameter_groups = ParameterGroupSim(self)
        self.proxies = ProxySim(self)
        self.blue_green = BlueGreenSim(self)
        self.maintenance = MaintenanceSim(self)
        # RDS beyond Aurora: DB instances of their own, and Multi-AZ DB clusters (their calls, their overlays).
        self.db_instances = DbInstanceSim(self)
        self.multi_az = MultiAzClusterSim(self)
        self._handlers = self._answers()

    def _answers(self) -> dict[str, Handler]:
        """Which method answers which API call: behaviour, so rebuilt on load rather than saved."""
        catalogue = self.catalogue
        handlers: dict[str, Handler] = {
            "DescribeDBInstances": self.describe_db_instances,
            "DescribeDBClusters": self.describe_db_clusters,
            "CreateDBInstance": self.create_db_instance,
            "ModifyDBInstance": self.modify_db_instance,
            "FailoverDBCluster": self.failover_db_cluster,
            "DeleteDBInstance": self.delete_db_instance,
            "RebootDBInstance": self.reboot_db_instance,
            "ModifyDBCluster": self.modify_db_cluster,
            "DescribeEvents": self.describe_events,
            "DescribeDBEngineVersions": lambda params: reference.describe_db_engine_versions(catalogue, params),
            "DescribeOrderableDBInstanceOptions": lambda params: reference.describe_orderable_db_instance_options(
                catalogue, params, self.zones
            ),
        }
        for extension in (
            self.parameter_groups,
            self.proxies,
            self.blue_green,
            self.maintenance,
            self.db_instances,
            self.multi_az,
        ):
            handlers.update(extension.handlers())
        return handlers

    def __getstate__(self) -> dict[str, Any]:
        """What a rehearsal account saves (`rds_sim.account`): the state, not the handler table."""
        state = dict(self.__dict__)
        del state["_handlers"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._handlers = self._answers()

    @property
    def zones(self) -> list[str]:
        return [f"{self.moto.region}{suffix}" for suffix in "abc"]

    def handle(self, operation: str, params: dict[str, Any]) -> Response:
        """Answer one API call (after settling); operations not simulated go to moto unchanged."""
        self.settle()
        handler = self._handlers.get(operation)
        if handler is None:
            return self.moto.call(operation, params)
        return handler(params)

    def set_parameter_apply_status(self, instance_id: str, status: str) -> None:
        self._parameter_status[instance_id] = status

    def rename_parameter_status(self, old_instance_id: str, new_instance_id: str) -> None:
        """A switchover renames instances: each name takes the parameter status of the one it replaces."""
        status = self._parameter_status.pop(old_instance_id, None)
        if status:
            self._parameter_status[new_instance_id] = status

    def set_cluster_storage(self, cluster_id: str, storage_type: str, next_allowed: datetime | None = None) -> None:
        """Seed a cluster's storage type and IOOptimizedNextAllowedModificationTime (None: never switched)."""
        self._cluster(cluster_id)
        if storage_type not in AURORA_STORAGE_TYPES:
            raise ValueError(f"Aurora storage types are {', '.join(AURORA_STORAGE_TYPES)}, not {storage_type!r}")
        self.moto.call(
            "ModifyDBCluster",
            {"DBClusterIdentifier": cluster_id, "StorageType": storage_type, "ApplyImmediately": True},
        )
        if next_allowed is None:
            self._io_next_allowed.pop(cluster_id, None)
        else:
            self._io_next_allowed[cluster_id] = next_allowed

    # -- settling: transitions end lazily ------------------------------------------------

    def now(self) -> datetime:
        """The clock's time, or while settling, the time of the event being applied."""
        return self._event_time or self.clock.now()

    def settle(self) -> None:
        """Apply every transition event due by now, oldest first (an event may schedule more).

        Each event is applied as of its own time, so a failover Aurora starts at a writer's
        visible moment picks the reader that was best *then*.
        """
        now = self.clock.now()
        try:
            while (due := self.timeline.next_due(now)) is not None:
                event, transition = due
                if event == "visible":
                    self._event_time = transition.visible_at
                    transition.started = True
                    self._on_visible(transition)
                else:
                    self._event_time = transition.ends_at
                    transition.ended = True
                    self._on_end(transition)
                self._record_event(transition, event)
        finally:
            self._event_time = None
        self.blue_green.settle()
        self.db_instances.settle()
        self.multi_az.settle()

    def _on_visible(self, transition: Transition) -> None:
        """A class change on the writer makes Aurora promote a reader as the instance goes down."""
        if transition.kind != "modify":
            return
        cluster_id = transition.detail.get("cluster_id")
        if cluster_id and self.moto.writer(cluster_id) == transition.resource_id:
            target = self._start_automatic_failover(cluster_id, transition, cause="writer-modify")
            transition.detail["failover_to"] = target

    def _on_end(self, transition: Transition) -> None:
        instance_id = transition.resource_id
        if transition.kind == "modify" and self.moto.instance(instance_id) is not None:
            self.moto.call(
                "ModifyDBInstance",
                {
                    "DBInstanceIdentifier": instance_id,
                    "DBInstanceClass": transition.detail["to_class"],
                    "ApplyImmediately": True,
                },
            )
        elif transition.kind == "create" and transition.detail.get("ends_as"):
            self._failed[instance_id] = str(transition.detail["ends_as"])
        elif transition.kind == "reboot":
            if self._parameter_status.get(instance_id) == PENDING_REBOOT:
                self._parameter_status[instance_id] = IN_SYNC
        elif transition.kind == "failover":
            self._flip_writer(transition.resource_id, transition.detail["to_writer"])
        elif transition.kind == "delete":
            self._finish_delete(instance_id, transition.detail.get("cluster_id"))
        elif transition.kind == "storage" and self.moto.cluster(instance_id) is not None:
            self.moto.call(
                "ModifyDBCluster",
                {"DBClusterIdentifier": instance_id, "StorageType": transition.detail["to"], "ApplyImmediately": True},
            )

    # Event messages as the RDS console lists them (wording of the simulator, close to AWS's).
    _EVENT_TEXT: dict[tuple[str, str], tuple[str, str, str]] = {
        ("create", "end"): ("db-instance", "creation", "DB instance created"),
        ("delete", "end"): ("db-instance", "deletion", "DB instance deleted"),
        ("modify", "visible"): (
            "db-instance",
            "configuration change",
            "Applying modification to database instance class",
        ),
        ("modify", "end"): (
            "db-instance",
            "configuration change",
            "Finished applying modification to DB instance class",
        ),
        # A reboot: RDS-EVENT-0004 "DB instance shutdown." as the instance goes down and RDS-EVENT-0006 "DB
        # instance restarted." once it is back, both in the availability category (Aurora user guide, "Amazon RDS
        # event categories and event messages for Aurora"; the console drops the final period). Events are best
        # effort: they "might be out of sequence or missing" (same guide); tests drop them at the client.
        ("reboot", "visible"): ("db-instance", "availability", "DB instance shutdown"),
        ("reboot", "end"): ("db-instance", "availability", "DB instance restarted"),
        ("failover", "visible"): ("db-cluster", "failover", "Started cross AZ failover to DB instance: {to_writer}"),
        ("failover", "end"): ("db-cluster", "failover", "Completed failover to DB instance: {to_writer}"),
        ("storage", "visible"): ("db-cluster", "configuration change", "Applying modification to storage type: {to}"),
        ("storage", "end"): (
            "db-cluster",
            "configuration change",
            "Finished applying modification to storage type: {to}",
        ),
    }

    def _record_event(self, transition: Transition, event: str) -> None:
        text = self._EVENT_TEXT.get((transition.kind, event))
        if text is None:
            return
        source_type, category, message = text
        if transition.kind == "create" and event == "end" and transition.detail.get("ends_as"):
            category, message = "failure", "DB instance creation failed: the instance is {ends_as}"
        kind = "db" if source_type == "db-instance" else "cluster"
        self._events.append(
            {
                "SourceIdentifier": transition.resource_id,
                "SourceType": source_type,
                "Message": message.format_map(_Detail(transition.detail)),
                "EventCategories": [category],
                "Date": transition.visible_at if event == "visible" else transition.ends_at,
                "SourceArn": f"arn:aws:rds:{self.moto.region}:{ACCOUNT}:{kind}:{transition.resource_id}",
            }
        )

    def record_event(self, row: dict[str, Any]) -> None:
        """A DescribeEvents row written by an area simulator (DB instances), answered with the world's own."""
        self._events.append(row)

    def _flip_writer(self, cluster_id: str, target: str) -> None:
        members = self.moto.cluster_instances(cluster_id)
        if target in members and self.moto.writer(cluster_id) != target:
            self.moto.call(
                "FailoverDBCluster", {"DBClusterIdentifier": cluster_id, "TargetDBInstanceIdentifier": target}
            )

    def _finish_delete(self, instance_id: str, cluster_id: str | None) -> None:
        if cluster_id and self.moto.writer(cluster_id) == instance_id:
            # Normally the failover started with the delete has ended by now; if not, promote now
            # rather than let moto choose a writer by its own rules.
            target = self.best_reader(cluster_id, exclude={instance_id}, any_state=True)
            if target:
                self._flip_writer(cluster_id, target)
        data = self.moto.instance(instance_id)
        for replica in (data or {}).get("ReadReplicaDBInstanceIdentifiers") or []:
            # [B1] Deleting a source DB instance promotes its read replicas to instances of their own (RDS user
            # guide, "Working with DB instance read replicas"); moto would keep them pointing at nothing.
            if self.moto.instance(str(replica)) is not None:
                self.moto.call("PromoteReadReplica", {"DBInstanceIdentifier": str(replica)})
        if data is not None:
            self.moto.call("DeleteDBInstance", {"DBInstanceIdentifier": instance_id, "SkipFinalSnapshot": True})
        self._parameter_status.pop(instance_id, None)
        self._maintenance_class.pop(instance_id, None)
        self._performance_insights.pop(instance_id, None)
        self._failed.pop(instance_id, None)

    # -- what a caller sees now ----------------------------------------------------------

    def instance_status(self, instance_id: str, moto_status: str = AVAILABLE) -> str:
        stuck = self.faults.stuck_status(instance_id)
        if stuck:
            return stuck
        transition = self.timeline.under_way(instance_id, INSTANCE_KINDS)
        if transition is None:
            failed = self._failed.get(instance_id)
            status = failed or self.blue_green.instance_status(instance_id) or moto_status
            return self.db_instances.status_in_world(instance_id, status)  # modifying, storage-optimization, ...
        if transition.kind == "create":
            return "creating"
        if transition.kind == "delete":
            return "deleting"
        if transition.in_lag(self.now()):
            return AVAILABLE
        return "modifying" if transition.kind == "modify" else "rebooting"

    def cluster_status(self, cluster_id: str, moto_status: str = AVAILABLE) -> str:
        failover = self.timeline.under_way(cluster_id, CLUSTER_KINDS)
        if failover is not None and not failover.in_lag(self.now()):
            return "failing-over"
        storage = self.timeline.under_way(cluster_id, STORAGE_KINDS)
        if storage is not None and not storage.in_lag(self.now()):
            return "modifying"
        return self.blue_green.cluster_status(cluster_id) or moto_status

    def pending_class(self, instance_id: str) -> str | None:
        modify = self.timeline.under_way(instance_id, ("modify",))
        if modify is not None:
            return str(modify.detail["to_class"])
        return self._maintenance_class.get(instance_id)

    def overlay_instance(self, data: dict[str, Any]) -> dict[str, Any]:
        """moto's DBInstance with the status, pending class and parameter status of now."""
        out = copy.deepcopy(data)
        instance_id = str(out["DBInstanceIdentifier"])
        out["DBInstanceStatus"] = self.instance_status(instance_id, str(out.get("DBInstanceStatus", AVAILABLE)))
        pending = dict(out.get("PendingModifiedValues") or {})
        pending.pop("DBInstanceClass", None)
        pending_class = self.pending_class(instance_id)
        if pending_class:
            pending["DBInstanceClass"] = pending_class
        out["PendingModifiedValues"] = pending
        groups = out.get("DBParameterGroups") or []
        if groups and instance_id in self._parameter_status:
            groups[0]["ParameterApplyStatus"] = self._parameter_status[instance_id]
        if str(out.get("Engine", "")).startswith("aurora"):
            if out.get("PubliclyAccessible") is None:
                out["PubliclyAccessible"] = False  # moto leaves it unset when omitted
            if out.get("CACertificateIdentifier") in (None, "rds-ca-default"):
                out["CACertificateIdentifier"] = DEFAULT_CA  # moto's placeholder
        insights = self._performance_insights.get(instance_id) or {}
        out["PerformanceInsightsEnabled"] = bool(insights.get("enabled"))
        if insights.get("enabled"):
            out["PerformanceInsightsKMSKeyId"] = insights["kms_key"]
            out["PerformanceInsightsRetentionPeriod"] = insights["retention"]
        if self.db_instances.owns(out):
            return self.db_instances.overlay_instance(out)
        if self.multi_az.owns_member_data(out):
            return self.multi_az.overlay_instance(out)
        return out

    def _set_performance_insights(self, instance_id: str, params: dict[str, Any]) -> None:
        """EnablePerformanceInsights and its key and retention, as CreateDBInstance/ModifyDBInstance take them."""
        if params.get("EnablePerformanceInsights") is None:
            return
        if not params["EnablePerformanceInsights"]:
            self._performance_insights[instance_id] = {"enabled": False}
            return
        before = self._performance_insights.get(instance_id) or {}
        key = params.get("PerformanceInsightsKMSKeyId") or before.get("kms_key")
        self._performance_insights[instance_id] = {
            "enabled": True,
            "kms_key": key or f"arn:aws:kms:{self.moto.region}:{ACCOUNT}:key/aws-rds-default",
            "retention": int(
                params.get("PerformanceInsightsRetentionPeriod") or before.get("retention") or PI_DEFAULT_RETENTION
            ),
        }

    def configure_instance(self, instance_id: str, params: dict[str, Any]) -> None:
        """Seed an instance's network and monitoring settings, as a person sets them (ModifyDBInstance)."""
        self._instance(instance_id)
        insights = {k: v for k, v in params.items() if "PerformanceInsights" in k}
        rest = {k: v for k, v in params.items() if k not in insights}
        if rest:
            self.moto.call("ModifyDBInstance", {"DBInstanceIdentifier": instance_id, "ApplyImmediately": True, **rest})
        self._set_performance_insights(instance_id, insights)

    def overlay_cluster(self, data: dict[str, Any]) -> dict[str, Any]:
        """moto's DBCluster with the status of now; the writer is moto's (flips at failover end)."""
        out = copy.deepcopy(data)
        cluster_id = str(out["DBClusterIdentifier"])
        out["Status"] = self.cluster_status(cluster_id, str(out.get("Status", AVAILABLE)))
        if str(out.get("Engine", "")).startswith("aurora") and out.get("StorageType") != IO_OPTIMIZED:
            # A Standard Aurora cluster may report no StorageType at all: the botocore model marks it
            # optional, and clusters created before I/O-Optimized existed omit it (docs/aws-behaviour.md,
            # "Storage"). The harsher answer, always: omit it. (moto also defaults such clusters to gp2.)
            out.pop("StorageType", None)
        pending = dict(out.get("PendingModifiedValues") or {})
        pending.pop("StorageType", None)
        storage = self.timeline.under_way(cluster_id, STORAGE_KINDS)
        if storage is not None and not storage.in_lag(self.now()):
            pending["StorageType"] = storage.detail["to"]
        if pending:
            out["PendingModifiedValues"] = pending
        else:
            out.pop("PendingModifiedValues", None)
        if cluster_id in self._io_next_allowed:
            out["IOOptimizedNextAllowedModificationTime"] = self._io_next_allowed[cluster_id]
        global_id = str(out.get("GlobalClusterIdentifier") or "")
        if global_id.startswith("arn:"):
            # moto answers the global cluster's ARN; AWS answers its identifier (DBCluster reference)
            out["GlobalClusterIdentifier"] = global_id.rsplit(":", 1)[-1]
        for member in out.get("DBClusterMembers") or []:
            status = self._parameter_status.get(str(member["DBInstanceIdentifier"]))
            if status:
                member["DBClusterParameterGroupStatus"] = status
        if self.multi_az.owns_cluster_data(out):
            return self.multi_az.overlay_cluster(out)
        return out

    # -- reads ---------------------------------------------------------------------------

    def describe_db_instances(self, params: dict[str, Any]) -> Response:
        response = self.moto.call("DescribeDBInstances", params)
        response["DBInstances"] = [self.overlay_instance(i) for i in response.get("DBInstances", [])]
        return response

    def describe_db_clusters(self, params: dict[str, Any]) -> Response:
        response = self.moto.call("DescribeDBClusters", params)
        response["DBClusters"] = [self.overlay_cluster(c) for c in response.get("DBClusters", [])]
        return response

    # -- changes ---------------------------------------------------------------------------

    def create_db_instance(self, params: dict[str, Any]) -> Response:
        instance_id = str(params.get("DBInstanceIdentifier", ""))
        if not valid_identifier(instance_id):
            raise ApiError("InvalidParameterValue", _BAD_IDENTIFIER)
        if self.moto.instance(instance_id) is not None:  # includes one still deleting
            raise ApiError("DBInstanceAlreadyExists", "DB instance already exists")
        cluster_id = params.get("DBClusterIdentifier")
        instance_class = str(params.get("DBInstanceClass", ""))
        if cluster_id:
            cluster = self._cluster(cluster_id)
            status = self.cluster_status(cluster_id, str(cluster.get("Status", AVAILABLE)))
            if status != AVAILABLE:
                raise cluster_state(f"DB cluster {cluster_id} is not in available state (it is {status}).")
            engine = str(params.get("Engine") or cluster["Engine"])
            self._check_orderable(engine, str(cluster["EngineVersion"]), instance_class)
        if params.get("MonitoringRoleArn") and not params.get("MonitoringInterval"):
            raise ApiError(
                "InvalidParameterCombination",
                "You must specify a MonitoringInterval value other than 0 when you specify a MonitoringRoleARN value.",
            )
        self.moto.call("CreateDBInstance", {k: v for k, v in params.items() if "PerformanceInsights" not in k})
        self._set_performance_insights(instance_id, params)
        detail: dict[str, Any] = {"cluster_id": cluster_id, "instance_class": instance_class}
        ends_as = self.faults.take_failed_creation(instance_id)
        if ends_as:
            detail["ends_as"] = ends_as
        self.timeline.schedule(instance_id, "create", self.now(), lag=None, duration="create", detail=detail)
        return {"DBInstance": self.overlay_instance(self._instance(instance_id))}

    def modify_db_instance(self, params: dict[str, Any]) -> Response:
        instance_id = str(params.get("DBInstanceIdentifier", ""))
        instance = self._instance(instance_id)
        if self.db_instances.owns_instance(instance_id):
            return self.db_instances.modify_db_instance(params)
        if self.multi_az.owns_instance(instance_id):
            return self.multi_az.modify_db_instance(params)
        self._refuse_if_busy(instance_id)
        new_class = params.get("DBInstanceClass")
        class_change = new_class is not None and new_class != instance["DBInstanceClass"]
        cluster_id = instance.get("DBClusterIdentifier")
        if class_change:
            version = str(instance.get("EngineVersion", ""))
            if cluster_id:
                if self.timeline.under_way(cluster_id, CLUSTER_KINDS) is not None:
                    raise cluster_state(f"DB cluster {cluster_id} is failing over; try again later.")
                version = str(self._cluster(cluster_id)["EngineVersion"])
            self._check_orderable(str(instance["Engine"]), version, str(new_class))
        # Everything but the class (the promotion tier, for one) takes effect at once.
        self.moto.call(
            "ModifyDBInstance",
            {k: v for k, v in params.items() if k != "DBInstanceClass" and "PerformanceInsights" not in k},
        )
        self._set_performance_insights(instance_id, params)
        if new_class is not None and not class_change:
            self._maintenance_class.pop(instance_id, None)
        if class_change and params.get("ApplyImmediately"):
            self._maintenance_class.pop(instance_id, None)
            self.timeline.schedule(
                instance_id,
                "modify",
                self.now(),
                lag="modify_lag",
                duration="modify",
                detail={"cluster_id": cluster_id, "from_class": instance["DBInstanceClass"], "to_class": new_class},
            )
        elif class_change:
            # Without ApplyImmediately AWS waits for the maintenance window; none comes here.
            self._maintenance_class[instance_id] = str(new_class)
        return {"DBInstance": self.overlay_instance(self._instance(instance_id))}

    def failover_db_cluster(self, params: dict[str, Any]) -> Response:
        cluster_id = str(params.get("DBClusterIdentifier", ""))
        cluster = self._cluster(cluster_id)
        if self.multi_az.owns_cluster(cluster_id):
            return self.multi_az.failover_db_cluster(params)
        if self.timeline.under_way(cluster_id, CLUSTER_KINDS) is not None:
            raise cluster_state(f"DB cluster {cluster_id} is already failing over.")
        status = self.cluster_status(cluster_id, str(cluster.get("Status", AVAILABLE)))
        if status != AVAILABLE:
            raise cluster_state(f"DB cluster {cluster_id} is not in available state (it is {status}).")
        writer = self.moto.writer(cluster_id)
        target = params.get("TargetDBInstanceIdentifier")
        if target:
            target = str(target)
            if self.moto.instance(target) is None:
                raise instance_not_found(target)
            if target not in self.moto.cluster_instances(cluster_id):
                raise instance_state(f"DB instance {target} is not a member of DB cluster {cluster_id}.")
            if target == writer:
                return {"DBCluster": self.overlay_cluster(cluster)}  # AWS accepts and does nothing
            if not self._ready(target):
                raise instance_state(f"Instance {target} should be in valid state for failover.")
        else:
            target = self.best_reader(cluster_id, exclude={writer} if writer else set())
            if target is None:
                raise cluster_state(
                    f"Database cluster:{cluster_id} should have at least two database instances in valid "
                    "states or a valid target instance for failover."
                )
        self.timeline.schedule(
            cluster_id,
            "failover",
            self.now(),
            lag="failover_lag",
            duration="failover",
            detail={"from_writer": writer, "to_writer": target, "cause": "FailoverDBCluster"},
        )
        return {"DBCluster": self.overlay_cluster(self._cluster(cluster_id))}

    def delete_db_instance(self, params: dict[str, Any]) -> Response:
        instance_id = str(params.get("DBInstanceIdentifier", ""))
        instance = self._instance(instance_id)
        failed = self._failed.get(instance_id)
        if failed and not params.get("SkipFinalSnapshot") and not instance.get("DBClusterIdentifier"):
            # DeleteDBInstance reference: a failed, incompatible-restore or incompatible-network instance can
            # only be deleted with SkipFinalSnapshot (a cluster instance takes no final snapshot anyway).
            raise ApiError(
                "InvalidParameterCombination",
                f"DB instance {instance_id} is {failed}: it can only be deleted with SkipFinalSnapshot.",
            )
        self._refuse_if_busy(instance_id, deleting=True)
        if self.db_instances.owns_instance(instance_id):
            self.db_instances.refuse_delete_if_busy(instance_id)
        if instance.get("DeletionProtection"):
            raise ApiError(
                "InvalidParameterCombination",
                "Cannot delete protected DB Instance, please disable deletion protection and try again.",
            )
        cluster_id = instance.get("DBClusterIdentifier")
        if not cluster_id and not params.get("SkipFinalSnapshot"):
            # [B1] An instance of its own takes its final snapshot when asked, and must be asked unless
            # SkipFinalSnapshot (DeleteDBInstance reference); the snapshot is taken as the deletion starts.
            snapshot = params.get("FinalDBSnapshotIdentifier")
            if not snapshot:
                raise ApiError(
                    "InvalidParameterCombination",
                    "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.",
                )
            self.moto.call(
                "CreateDBSnapshot", {"DBInstanceIdentifier": instance_id, "DBSnapshotIdentifier": str(snapshot)}
            )
        delete = self.timeline.schedule(
            instance_id,
            "delete",
            self.now(),
            lag=None,
            duration="delete",
            detail={"cluster_id": cluster_id},
        )
        if cluster_id and self.moto.writer(cluster_id) == instance_id:
            delete.detail["failover_to"] = self._start_automatic_failover(cluster_id, delete, cause="writer-delete")
        return {"DBInstance": self.overlay_instance(instance)}

    def modify_db_cluster(self, params: dict[str, Any]) -> Response:
        """Aurora storage type changes (in place, after a lag, `modifying` for minutes); the rest goes to moto."""
        cluster_id = str(params.get("DBClusterIdentifier", ""))
        cluster = self._cluster(cluster_id)
        if self.multi_az.owns_cluster(cluster_id):
            return self.multi_az.modify_db_cluster(params)
        storage_keys = ("StorageType", "Iops", "StorageThroughput")
        aurora = str(cluster.get("Engine", "")).startswith("aurora")
        if aurora and any(params.get(k) is not None for k in storage_keys):
            self._change_storage(cluster_id, cluster, params)
        rest = {k: v for k, v in params.items() if not (aurora and k in storage_keys)}
        if set(rest) - {"DBClusterIdentifier", "ApplyImmediately"}:
            self.moto.call("ModifyDBCluster", rest)
        return {"DBCluster": self.overlay_cluster(self._cluster(cluster_id))}

    def _change_storage(self, cluster_id: str, cluster: dict[str, Any], params: dict[str, Any]) -> None:
        for key in ("Iops", "StorageThroughput"):
            if params.get(key) is not None:
                raise ApiError(
                    "InvalidParameterCombination",
                    f"{key} isn't supported for Aurora DB clusters; use StorageType aurora or aurora-iopt1.",
                )
        target = str(params.get("StorageType"))
        if target not in AURORA_STORAGE_TYPES:
            raise ApiError(
                "InvalidParameterValue",
                f"Invalid storage type for DB engine {cluster.get('Engine')}: {target}. "
                "Valid storage types are aurora and aurora-iopt1.",
            )
        status = self.cluster_status(cluster_id, str(cluster.get("Status", AVAILABLE)))
        if self.timeline.under_way(cluster_id, STORAGE_KINDS) is not None:
            # In its lag the cluster still reads `available`, but AWS has accepted the change.
            raise cluster_state(f"DB cluster {cluster_id} is not in available state (a storage change is under way).")
        if status != AVAILABLE or self.timeline.under_way(cluster_id, CLUSTER_KINDS) is not None:
            raise cluster_state(f"DB cluster {cluster_id} is not in available state (it is {status}).")
        current = str(self.overlay_cluster(cluster).get("StorageType") or STANDARD)
        if target == current:
            return  # nothing to change; AWS accepts the call
        if target == IO_OPTIMIZED:
            allowed = self._io_next_allowed.get(cluster_id)
            if allowed is not None and self.now() < allowed:
                raise ApiError(
                    "InvalidParameterCombination",
                    f"You can't modify the storage type of DB cluster {cluster_id} to aurora-iopt1 until "
                    f"{allowed:%Y-%m-%dT%H:%M:%SZ}: a DB cluster can switch to I/O-Optimized once every 30 days.",
                )
            self._io_next_allowed[cluster_id] = self.now() + IO_OPTIMIZED_COOLDOWN
        self.timeline.schedule(
            cluster_id,
            "storage",
            self.now(),
            lag="storage_lag",
            duration="storage_modify",
            detail={"from": current, "to": target},
        )

    def describe_events(self, params: dict[str, Any]) -> Response:
        """The simulator's own events (transitions), filtered like AWS: the last hour unless told."""
        source_id = params.get("SourceIdentifier")
        source_type = params.get("SourceType")
        if source_id and not source_type:
            raise ApiError("InvalidParameterCombination", "SourceType must be specified with SourceIdentifier.")
        now = self.now()
        end = _as_time(params.get("EndTime")) or now
        start = _as_time(params.get("StartTime"))
        if start is None:
            start = end - timedelta(minutes=int(params.get("Duration") or 60))
        categories = set(params.get("EventCategories") or [])
        rows = [
            dict(e)
            for e in self._events
            if start <= e["Date"] <= end
            and (source_id is None or e["SourceIdentifier"] == source_id)
            and (source_type is None or e["SourceType"] == source_type)
            and (not categories or categories & set(e["EventCategories"]))
        ]
        size = int(params.get("MaxRecords") or 100)
        offset = int(params.get("Marker") or 0)
        page: Response = {"Events": rows[offset : offset + size]}
        if offset + size < len(rows):
            page["Marker"] = str(offset + size)
        return page

    def reboot_db_instance(self, params: dict[str, Any]) -> Response:
        instance_id = str(params.get("DBInstanceIdentifier", ""))
        self._instance(instance_id)
        if self.db_instances.owns_instance(instance_id):
            return self.db_instances.reboot_db_instance(params)
        if self.multi_az.owns_instance(instance_id):
            return self.multi_az.reboot_db_instance(params)
        self._refuse_if_busy(instance_id)
        self.timeline.schedule(instance_id, "reboot", self.now(), lag="reboot_lag", duration="reboot", detail={})
        return {"DBInstance": self.overlay_instance(self._instance(instance_id))}

    # -- helpers -------------------------------------------------------------------------

    def best_reader(self, cluster_id: str, exclude: set[str], *, any_state: bool = False) -> str | None:
        """Aurora's choice: lowest promotion tier, then the largest class, then the name.

        Only readers that could take over now count (not creating, deleting, stuck or down),
        unless `any_state`, the last resort when the writer disappears.
        """
        writer = self.moto.writer(cluster_id)
        candidates = []
        for instance_id, data in self.moto.cluster_instances(cluster_id).items():
            if instance_id == writer or instance_id in exclude:
                continue
            if not any_state and not self._can_be_promoted(instance_id):
                continue
            tier = int(data.get("PromotionTier", 1))
            candidates.append((tier, -class_rank(str(data["DBInstanceClass"])), instance_id))
        return min(candidates)[2] if candidates else None

    def _start_automatic_failover(self, cluster_id: str, trigger: Transition, *, cause: str) -> str | None:
        """Aurora promotes the best reader on its own when the writer goes down; no lag here."""
        if self.timeline.under_way(cluster_id, CLUSTER_KINDS) is not None:
            return None  # the failover already under way will move the writer
        target = self.best_reader(cluster_id, exclude={trigger.resource_id})
        if target is None:
            return None  # a lone writer just goes down
        self.timeline.schedule(
            cluster_id,
            "failover",
            trigger.visible_at,
            lag=None,
            duration="failover",
            detail={"from_writer": trigger.resource_id, "to_writer": target, "cause": cause},
        )
        return target

    def _can_be_promoted(self, instance_id: str) -> bool:
        if self.faults.stuck_status(instance_id) or instance_id in self._failed:
            return False
        open_change = self.timeline.under_way(instance_id, INSTANCE_KINDS)
        return open_change is None or open_change.in_lag(self.now())

    def _ready(self, instance_id: str) -> bool:
        """Available and free: no change under way, not even one still in its lag."""
        return (
            not self.faults.stuck_status(instance_id)
            and instance_id not in self._failed
            and self.timeline.under_way(instance_id, INSTANCE_KINDS) is None
        )

    def _refuse_if_busy(self, instance_id: str, *, deleting: bool = False) -> None:
        """Refuse a change while the instance is busy or stuck; a failed instance takes only a deletion."""
        stuck = self.faults.stuck_status(instance_id)
        if stuck:
            raise instance_state(f"DB instance {instance_id} is not in available state (it is {stuck}).")
        open_change = self.timeline.under_way(instance_id, INSTANCE_KINDS)
        failed = self._failed.get(instance_id)
        if failed and open_change is None and not deleting:
            raise instance_state(f"DB instance {instance_id} is not in available state (it is {failed}).")
        if open_change is None:
            return
        if open_change.kind == "delete":
            raise instance_state(f"Instance {instance_id} is already being deleted.")
        # In its lag the instance still reads `available`, but the change has been accepted.
        raise instance_state(
            f"DB instance {instance_id} is not in available state (a {open_change.kind} is under way)."
        )

    def _check_orderable(self, engine: str, version: str, instance_class: str) -> None:
        if not self.catalogue.is_orderable(engine, version, instance_class):
            raise not_orderable(instance_class, engine, version, self.catalogue.license_model(engine))

    def _instance(self, instance_id: str) -> dict[str, Any]:
        instance = self.moto.instance(instance_id)
        if instance is None:
            raise instance_not_found(instance_id)
        return instance

    def _cluster(self, cluster_id: str) -> dict[str, Any]:
        cluster = self.moto.cluster(cluster_id)
        if cluster is None:
            raise cluster_not_found(cluster_id)
        return cluster


def _as_time(value: Any) -> datetime | None:
    """A DescribeEvents time as the caller gave it (datetime or ISO text), timezone-aware."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Detail(dict[str, Any]):
    """A transition's detail for an event message; a missing key reads as "-"."""

    def __missing__(self, key: str) -> str:
        return "-"
