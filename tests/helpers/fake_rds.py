"""An in-memory `RdsPort` on a fake clock, for unit tests of the engine that run in milliseconds.

This is a fake, not a model of AWS (that is `rds_sim`, which cites its sources): each change takes a
fixed number of virtual seconds and then lands, and nothing else happens. A create is `creating` and
in the cluster at once, then `available`; a class change is `modifying` with the class pending, then the
new class; a failover leaves the cluster `failing-over`, then the target is the writer; a delete is
`deleting`, then the member is gone; a reboot is `rebooting`, then `available` with its parameters in
sync and a restart event. State settles lazily: every call first applies what is due by the clock.

Tests steer it with `fail_next` (raise an error from a method's next calls), `before` (run code inside
a method's next call, e.g. a second engine racing the first), and the out-of-band setters that stand
for a person or AWS acting behind the tool's back (`set_writer`, `set_status`, `set_class`).
Methods the cluster operations do not use raise NotImplementedError naming themselves.

`FakeWorld` puts the engine on it (a file store in the test's tmp_path, the same fake clock): the engine
unit tests, `pytest -q tests/units/test_engine_*`, run in about a second with no moto and no simulator.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rds_maint.actions.polling import PollPolicy
from rds_maint.engine import Engine
from rds_maint.engine.cluster_mark import TAG_ACTIVE_OPERATION
from rds_maint.errors import BusyAwsError, PersonAwsError
from rds_maint.model import Event, Operation, StepResult
from rds_maint.ports import ParameterGroupKind, RdsPort, TargetKindName
from rds_maint.progress import drive
from rds_maint.snapshots import ClusterRoles, ClusterSnapshot, InstanceSnapshot, MemberSnapshot
from rds_maint.store import FileStore

if TYPE_CHECKING:  # only for the cast in `engine_for`: the fake itself needs no SDK
    from rds_maint.rds import RdsGateway

REGION = "us-east-1"
CLUSTER = "orders-prod"
OLD_CLASS = "db.r6g.large"
NEW_CLASS = "db.r6g.xlarge"
# The members `FakeWorld.make` seeds: the writer, then two readers.
WRITER, READER_2, READER_3 = (f"{CLUSTER}-instance-{n}" for n in (1, 2, 3))
ACCOUNT = "123456789012"
IN_SYNC, PENDING_REBOOT = "in-sync", "pending-reboot"
RAM_DISK = Path("/dev/shm")
MARK = TAG_ACTIVE_OPERATION
MAX_ADVANCES = 400  # a drive that needs more than this is a bug in the test or the engine, not a long wait


class FakeClock:
    """Virtual time: `sleep` moves it on at once."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=max(0.0, seconds))


@dataclass
class FakeInstance:
    id: str
    cluster_id: str
    instance_class: str
    availability_zone: str
    engine: str
    engine_version: str
    status: str = "available"
    promotion_tier: int = 1
    parameter_group: str | None = "default.aurora-postgresql15"
    parameter_apply_status: str = IN_SYNC
    cluster_parameter_status: str = IN_SYNC
    pending_class: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeCluster:
    id: str
    engine: str
    engine_version: str
    members: list[str]
    writer_id: str | None
    zones: list[str]
    status: str = "available"
    storage_type: str = "aurora"
    pending_storage_type: str | None = None
    parameter_group: str | None = "default.aurora-postgresql15"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """One accepted mutating call: what the fake was asked to do."""

    method: str
    args: dict[str, Any]
    at: datetime


def _is_mark(change: Change) -> bool:
    if change.method == "add_tags":
        return set(change.args["tags"]) == {MARK}
    return change.method == "remove_tags" and change.args["keys"] == [MARK]


def _not_found(operation: str, code: str, what: str) -> PersonAwsError:
    return PersonAwsError(operation, code, f"{what} not found")


class FakeRds:
    """In-memory RDS for one region (see the module docstring)."""

    def __init__(self, clock: FakeClock, region: str = REGION) -> None:
        self.clock = clock
        self.region = region
        self.calls: Counter[str] = Counter()
        self.changes: list[Change] = []
        self.clusters: dict[str, FakeCluster] = {}
        self.instances: dict[str, FakeInstance] = {}
        self.events: dict[str, list[tuple[datetime, str]]] = {}
        self.orderable = {OLD_CLASS, NEW_CLASS, "db.r6g.2xlarge"}
        self.maintenance: list[dict[str, Any]] = []
        self.create_seconds, self.modify_seconds, self.delete_seconds = 300, 400, 200
        self.failover_seconds, self.reboot_seconds, self.storage_seconds = 30, 60, 300
        # DB instances of their own (in no cluster), id -> tags: only `tagged_targets` sees them (the
        # operations on such instances run on the simulator).
        self.standalone_tags: dict[str, dict[str, str]] = {}
        self._due: list[tuple[datetime, int, Callable[[], None]]] = []
        self._faults: dict[str, list[Exception]] = {}
        self._before: dict[str, list[Callable[[], None]]] = {}

    # -- seeding and steering (tests) ------------------------------------------------------

    def add_cluster(
        self,
        cluster_id: str = CLUSTER,
        *,
        readers: int = 2,
        instance_class: str = OLD_CLASS,
        engine: str = "aurora-postgresql",
        engine_version: str = "15.4",
        pending_reboot: bool = False,
    ) -> list[str]:
        """An available cluster: `{cluster_id}-instance-1` writes, the others read, one per zone."""
        zones = [f"{self.region}{z}" for z in "abc"]
        ids = [f"{cluster_id}-instance-{n}" for n in range(1, readers + 2)]
        for n, instance_id in enumerate(ids):
            self.instances[instance_id] = FakeInstance(
                id=instance_id,
                cluster_id=cluster_id,
                instance_class=instance_class,
                availability_zone=zones[n % len(zones)],
                engine=engine,
                engine_version=engine_version,
                parameter_apply_status=PENDING_REBOOT if pending_reboot else IN_SYNC,
            )
        self.clusters[cluster_id] = FakeCluster(
            id=cluster_id,
            engine=engine,
            engine_version=engine_version,
            members=list(ids),
            writer_id=ids[0],
            zones=zones,
        )
        return ids

    def fail_next(self, method: str, error: Exception, times: int = 1) -> None:
        """The next `times` calls of `method` raise `error` (and change nothing)."""
        self._faults.setdefault(method, []).extend([error] * times)

    def clear_faults(self) -> None:
        self._faults.clear()

    def before(self, method: str, hook: Callable[[], None]) -> None:
        """Run `hook` inside the next call of `method`, before it answers."""
        self._before.setdefault(method, []).append(hook)

    def set_writer(self, cluster_id: str, instance_id: str) -> None:
        self.clusters[cluster_id].writer_id = instance_id

    def set_status(self, instance_id: str, status: str) -> None:
        """Hold an instance in a status (nothing moves it on until another call does)."""
        self.instances[instance_id].status = status

    def set_class(self, instance_id: str, instance_class: str) -> None:
        self.instances[instance_id].instance_class = instance_class

    def classes(self, cluster_id: str = CLUSTER) -> dict[str, str]:
        self._settle()
        return {i: self.instances[i].instance_class for i in self.clusters[cluster_id].members}

    def writer(self, cluster_id: str = CLUSTER) -> str | None:
        self._settle()
        return self.clusters[cluster_id].writer_id

    def exists(self, instance_id: str) -> bool:
        self._settle()
        return instance_id in self.instances

    def changes_of(self, method: str) -> list[dict[str, Any]]:
        return [c.args for c in self.changes if c.method == method]

    def changes_but_the_mark(self) -> list[Change]:
        """The changes other than putting on or taking off the cluster's mark (the lock's half in AWS)."""
        return [c for c in self.changes if not _is_mark(c)]

    def mark(self, cluster_id: str = CLUSTER) -> str | None:
        """The operation the cluster's rds-maint:active-operation tag names."""
        return self.clusters[cluster_id].tags.get(MARK)

    # -- plumbing --------------------------------------------------------------------------

    def _enter(self, method: str) -> None:
        """Count the call, run a hook, raise a planned fault, then apply what is due."""
        self.calls[method] += 1
        hooks = self._before.get(method)
        if hooks:
            hooks.pop(0)()
        faults = self._faults.get(method)
        if faults:
            raise faults.pop(0)
        self._settle()

    def _change(self, method: str, **args: Any) -> None:
        self.changes.append(Change(method, args, self.clock.now()))

    def _after(self, seconds: int, land: Callable[[], None]) -> None:
        self._due.append((self.clock.now() + timedelta(seconds=seconds), len(self.changes), land))

    def _settle(self) -> None:
        now = self.clock.now()
        ready = sorted((d for d in self._due if d[0] <= now), key=lambda d: (d[0], d[1]))
        self._due = [d for d in self._due if d[0] > now]
        for _, _, land in ready:
            land()

    def _cluster(self, operation: str, cluster_id: str) -> FakeCluster:
        cluster = self.clusters.get(cluster_id)
        if cluster is None:
            raise _not_found(operation, "DBClusterNotFoundFault", f"DBCluster {cluster_id}")
        return cluster

    def _instance(self, operation: str, instance_id: str) -> FakeInstance:
        instance = self.instances.get(instance_id)
        if instance is None:
            raise _not_found(operation, "DBInstanceNotFound", f"DBInstance {instance_id}")
        return instance

    def _snapshot(self, i: FakeInstance) -> InstanceSnapshot:
        return InstanceSnapshot(
            id=i.id,
            cluster_id=i.cluster_id,
            instance_class=i.instance_class,
            status=i.status,
            engine=i.engine,
            engine_version=i.engine_version,
            availability_zone=i.availability_zone,
            promotion_tier=i.promotion_tier,
            parameter_group=i.parameter_group,
            parameter_apply_status=i.parameter_apply_status,
            pending_class=i.pending_class,
            tags=dict(i.tags),
        )

    def _arn(self, kind: str, resource_id: str) -> str:
        return f"arn:aws:rds:{self.region}:{ACCOUNT}:{kind}:{resource_id}"

    def _tags_of(self, operation: str, arn: str) -> dict[str, str]:
        kind, _, resource_id = arn.rpartition(":")
        if kind.endswith(":cluster") and resource_id in self.clusters:
            return self.clusters[resource_id].tags
        if kind.endswith(":db") and resource_id in self.instances:
            return self.instances[resource_id].tags
        code = "DBClusterNotFoundFault" if kind.endswith(":cluster") else "DBInstanceNotFound"
        raise _not_found(operation, code, arn)

    # -- reads -----------------------------------------------------------------------------

    def check_credentials(self) -> None:
        self._enter("check_credentials")

    def describe_cluster(self, cluster_id: str) -> ClusterSnapshot:
        self._enter("describe_cluster")
        return self._describe(self._cluster("DescribeDBClusters", cluster_id))

    def find_cluster(self, cluster_id: str) -> ClusterSnapshot | None:
        self._enter("find_cluster")
        found = self.clusters.get(cluster_id)
        return self._describe(found) if found else None

    def _describe(self, c: FakeCluster) -> ClusterSnapshot:
        members = tuple(
            MemberSnapshot(
                instance=self._snapshot(self.instances[i]),
                is_writer=i == c.writer_id,
                promotion_tier=self.instances[i].promotion_tier,
                cluster_parameter_group_status=self.instances[i].cluster_parameter_status,
            )
            for i in c.members
        )
        return ClusterSnapshot(
            id=c.id,
            status=c.status,
            engine=c.engine,
            engine_version=c.engine_version,
            storage_type=c.storage_type,
            parameter_group=c.parameter_group,
            members=members,
            tags=dict(c.tags),
            raw={"AvailabilityZones": list(c.zones), "DBClusterArn": self._arn("cluster", c.id)},
            pending_storage_type=c.pending_storage_type,
        )

    def cluster_roles(self, cluster_id: str) -> ClusterRoles:
        self._enter("cluster_roles")
        return self._roles(self._cluster("DescribeDBClusters", cluster_id))

    def find_cluster_roles(self, cluster_id: str) -> ClusterRoles | None:
        self._enter("find_cluster_roles")
        found = self.clusters.get(cluster_id)
        return self._roles(found) if found else None

    @staticmethod
    def _roles(c: FakeCluster) -> ClusterRoles:
        return ClusterRoles(
            id=c.id, status=c.status, writer_id=c.writer_id, member_ids=tuple(c.members), engine=c.engine
        )

    def find_instance(self, instance_id: str) -> InstanceSnapshot | None:
        self._enter("find_instance")
        found = self.instances.get(instance_id)
        return self._snapshot(found) if found else None

    def instance_events(self, instance_id: str, since: datetime) -> list[tuple[datetime, str]]:
        self._enter("instance_events")
        return sorted(e for e in self.events.get(instance_id, []) if e[0] >= since)

    def is_orderable(self, engine: str, engine_version: str, instance_class: str) -> bool:
        self._enter("is_orderable")
        return instance_class in self.orderable

    def list_tags(self, arn: str) -> dict[str, str]:
        self._enter("list_tags")
        return dict(self._tags_of("ListTagsForResource", arn))

    def tagged_targets(self, kind: TargetKindName, key: str, value: str) -> list[str]:
        self._enter("tagged_targets")
        if kind == "cluster":
            return sorted(c.id for c in self.clusters.values() if c.tags.get(key) == value)
        return sorted(i for i, tags in self.standalone_tags.items() if tags.get(key) == value)

    def pending_maintenance(self) -> list[dict[str, Any]]:
        self._enter("pending_maintenance")
        return [dict(m) for m in self.maintenance]

    def db_proxies(self) -> list[dict[str, Any]]:
        self._enter("db_proxies")
        return []

    # -- writes ----------------------------------------------------------------------------

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
        self._enter("create_cluster_instance")
        cluster = self._cluster("CreateDBInstance", cluster_id)
        if instance_id in self.instances:
            raise PersonAwsError("CreateDBInstance", "DBInstanceAlreadyExists", f"{instance_id} already exists")
        instance = FakeInstance(
            id=instance_id,
            cluster_id=cluster_id,
            instance_class=instance_class,
            availability_zone=availability_zone or cluster.zones[0],
            engine=engine,
            engine_version=cluster.engine_version,
            status="creating",
            promotion_tier=promotion_tier,
            parameter_group=parameter_group,
            tags=dict(tags),
            settings=dict(settings),
        )
        self.instances[instance_id] = instance
        cluster.members.append(instance_id)
        self._change("create_cluster_instance", instance_id=instance_id, instance_class=instance_class, tags=tags)

        def land() -> None:
            instance.status = "available"

        self._after(self.create_seconds, land)

    def modify_instance(
        self, instance_id: str, *, instance_class: str | None = None, promotion_tier: int | None = None
    ) -> None:
        self._enter("modify_instance")
        instance = self._instance("ModifyDBInstance", instance_id)
        if instance_class is not None and instance.status != "available":
            raise BusyAwsError("ModifyDBInstance", "InvalidDBInstanceState", f"{instance_id} is {instance.status}")
        self._change("modify_instance", instance_id=instance_id, instance_class=instance_class, tier=promotion_tier)
        if promotion_tier is not None:
            instance.promotion_tier = promotion_tier
        if instance_class is None:
            return
        instance.status, instance.pending_class = "modifying", instance_class

        def land() -> None:
            instance.instance_class, instance.pending_class, instance.status = instance_class, None, "available"

        self._after(self.modify_seconds, land)

    def failover(self, cluster_id: str, target_instance_id: str) -> None:
        self._enter("failover")
        cluster = self._cluster("FailoverDBCluster", cluster_id)
        if target_instance_id not in cluster.members:
            raise PersonAwsError("FailoverDBCluster", "InvalidParameterValue", f"{target_instance_id} not a member")
        if cluster.status != "available":
            raise BusyAwsError("FailoverDBCluster", "InvalidDBClusterStateFault", f"{cluster_id} is {cluster.status}")
        self._change("failover", cluster_id=cluster_id, target=target_instance_id)
        cluster.status = "failing-over"

        def land() -> None:
            cluster.writer_id, cluster.status = target_instance_id, "available"

        self._after(self.failover_seconds, land)

    def delete_instance(self, instance_id: str) -> None:
        self._enter("delete_instance")
        instance = self._instance("DeleteDBInstance", instance_id)
        cluster = self.clusters[instance.cluster_id]
        if cluster.writer_id == instance_id:
            # not modelled: what AWS does when the writer is deleted; the tool must never ask for it
            raise PersonAwsError("DeleteDBInstance", "FakeRefusesWriterDeletion", f"{instance_id} is the writer")
        self._change("delete_instance", instance_id=instance_id)
        instance.status = "deleting"

        def land() -> None:
            self.instances.pop(instance_id, None)
            if instance_id in cluster.members:
                cluster.members.remove(instance_id)

        self._after(self.delete_seconds, land)

    def reboot_instance(self, instance_id: str, *, force_failover: bool = False) -> None:
        self._enter("reboot_instance")
        instance = self._instance("RebootDBInstance", instance_id)
        if instance.status != "available":
            raise BusyAwsError("RebootDBInstance", "InvalidDBInstanceState", f"{instance_id} is {instance.status}")
        self._change("reboot_instance", instance_id=instance_id)
        instance.status = "rebooting"

        def land() -> None:
            instance.status = "available"
            instance.parameter_apply_status = instance.cluster_parameter_status = IN_SYNC
            self.events.setdefault(instance_id, []).append((self.clock.now(), "DB instance restarted"))

        self._after(self.reboot_seconds, land)

    def modify_cluster_storage(self, cluster_id: str, storage_type: str) -> None:
        self._enter("modify_cluster_storage")
        cluster = self._cluster("ModifyDBCluster", cluster_id)
        self._change("modify_cluster_storage", cluster_id=cluster_id, storage_type=storage_type)
        cluster.status, cluster.pending_storage_type = "modifying", storage_type

        def land() -> None:
            cluster.storage_type, cluster.pending_storage_type, cluster.status = storage_type, None, "available"

        self._after(self.storage_seconds, land)

    def add_tags(self, arn: str, tags: dict[str, str]) -> None:
        self._enter("add_tags")
        self._tags_of("AddTagsToResource", arn).update(tags)
        self._change("add_tags", arn=arn, tags=tags)

    def remove_tags(self, arn: str, keys: list[str]) -> None:
        self._enter("remove_tags")
        tags = self._tags_of("RemoveTagsFromResource", arn)
        for key in keys:
            tags.pop(key, None)
        self._change("remove_tags", arn=arn, keys=list(keys))

    def set_tag(self, cluster_id: str, key: str, value: str) -> None:
        """A tag put on the cluster behind the tool's back (another store's operation, a person)."""
        self.clusters[cluster_id].tags[key] = value

    # -- not used by the cluster operations: a test that reaches one needs the simulator ----

    def _unsupported(self, method: str) -> NotImplementedError:
        return NotImplementedError(f"FakeRds.{method} is not implemented (engine_upgrade: use the simulator)")

    def engine_version(self, engine: str, version: str) -> dict[str, Any] | None:
        raise self._unsupported("engine_version")

    def blue_green_deployments(self, source_arn: str | None = None) -> list[dict[str, Any]]:
        raise self._unsupported("blue_green_deployments")

    def find_blue_green_deployment(self, deployment_id: str) -> dict[str, Any] | None:
        raise self._unsupported("find_blue_green_deployment")

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
        raise self._unsupported("create_blue_green_deployment")

    # -- DB instances and Multi-AZ DB clusters: their tests run on the simulator ----

    def modify_instance_storage(
        self,
        instance_id: str,
        *,
        storage_type: str | None,
        iops: int | None = None,
        storage_throughput: int | None = None,
        allocated_storage: int | None = None,
    ) -> None:
        raise self._unsupported("modify_instance_storage")

    def upgrade_instance_in_place(
        self, instance_id: str, *, engine_version: str, allow_major: bool, parameter_group: str | None = None
    ) -> None:
        raise self._unsupported("upgrade_instance_in_place")

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
        raise self._unsupported("modify_multi_az_cluster")

    def reboot_cluster(self, cluster_id: str) -> None:
        raise self._unsupported("reboot_cluster")

    def orderable_options(self, engine: str, engine_version: str, instance_class: str) -> list[dict[str, Any]]:
        raise self._unsupported("orderable_options")

    def switchover_blue_green_deployment(self, deployment_id: str, timeout: int) -> None:
        raise self._unsupported("switchover_blue_green_deployment")

    def delete_blue_green_deployment(self, deployment_id: str, *, delete_target: bool) -> None:
        raise self._unsupported("delete_blue_green_deployment")

    def delete_switched_over_blue_green_deployment(self, deployment_id: str) -> None:
        raise self._unsupported("delete_switched_over_blue_green_deployment")

    def turn_off_cluster_deletion_protection(self, cluster_id: str) -> None:
        raise self._unsupported("turn_off_cluster_deletion_protection")

    def delete_cluster(self, cluster_id: str, final_snapshot_id: str) -> None:
        raise self._unsupported("delete_cluster")

    def parameter_group(self, kind: ParameterGroupKind, name: str) -> dict[str, Any] | None:
        raise self._unsupported("parameter_group")

    def parameters(self, kind: ParameterGroupKind, name: str, source: str | None = None) -> list[dict[str, Any]]:
        raise self._unsupported("parameters")

    def create_parameter_group(
        self, kind: ParameterGroupKind, name: str, family: str, description: str, tags: dict[str, str]
    ) -> None:
        raise self._unsupported("create_parameter_group")

    def modify_parameter_group(self, kind: ParameterGroupKind, name: str, parameters: list[dict[str, Any]]) -> None:
        raise self._unsupported("modify_parameter_group")

    def delete_parameter_group(self, kind: ParameterGroupKind, name: str) -> None:
        raise self._unsupported("delete_parameter_group")

    def proxy_targets(self, proxy: str, target_group: str) -> list[dict[str, Any]]:
        raise self._unsupported("proxy_targets")

    # -- instance Blue/Green (helper B2) --------------------------------------------------------------

    def delete_instance_with_final_snapshot(self, instance_id: str, final_snapshot_id: str) -> None:
        raise self._unsupported("delete_instance_with_final_snapshot")


def as_port(fake: FakeRds) -> RdsPort:
    """mypy checks here that FakeRds implements every method of RdsPort with its signature."""
    return fake


@contextlib.contextmanager
def store_root(tmp_path: Path) -> Iterator[Path]:
    """Where a test's file store lives: a fresh directory in RAM (/dev/shm) when the machine has one.

    The file store fsyncs and renames at every save, as it must; on a disk that costs milliseconds per
    save (tens of saves per operation), in RAM next to nothing. Elsewhere, the test's tmp_path.
    """
    if not (RAM_DISK.is_dir() and os.access(RAM_DISK, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=RAM_DISK, prefix="rds-maint-unit-") as directory:
        yield Path(directory)


# -- the engine on the fake -------------------------------------------------------------------


@dataclass
class FakeWorld:
    """A fake RDS with one cluster (1 writer, 2 readers), a file store and an engine, on one fake clock."""

    clock: FakeClock
    rds: FakeRds
    store: FileStore
    engine: Engine

    @classmethod
    def make(
        cls, root: Path, *, readers: int = 2, pending_reboot: bool = False, poll: PollPolicy | None = None
    ) -> FakeWorld:
        """`poll` defaults to the engine's own schedule (not the environment's), so a wait costs a few looks."""
        clock = FakeClock()
        rds = FakeRds(clock)
        rds.add_cluster(readers=readers, pending_reboot=pending_reboot)
        store = FileStore(root / "state")
        return cls(clock=clock, rds=rds, store=store, engine=cls.engine_for(rds, store, clock, poll))

    @staticmethod
    def engine_for(rds: FakeRds, store: FileStore, clock: FakeClock, poll: PollPolicy | None = None) -> Engine:
        # Engine still annotates its factory with the concrete RdsGateway, though it only uses the
        # RdsPort methods (issue 11 moves it to the port); `as_port` keeps the fake checked against the port.
        gateway = cast("RdsGateway", as_port(rds))
        return Engine(store, lambda region: gateway, clock=clock, poll_policy=poll or PollPolicy())

    def second_engine(self) -> Engine:
        """Another process on the same store, clock and AWS."""
        return self.engine_for(self.rds, FileStore(self.store.root), self.clock, self.engine.poll_policy)

    def create(self, params: dict[str, Any] | None = None, **extra: Any) -> Operation:
        request: dict[str, Any] = {
            "type": "instance_type_change",
            "cluster_id": CLUSTER,
            "region": REGION,
            "params": {"target_instance_type": NEW_CLASS} if params is None else params,
        }
        request.update(extra)
        return self.engine.create(request)

    def drive(self, op_id: str, engine: Engine | None = None) -> StepResult:
        """`advance` until the operation ends or needs a person, sleeping (virtually) as told."""
        engine = engine or self.engine
        result = drive(engine, op_id, self.clock.sleep, max_calls=MAX_ADVANCES)
        assert result.outcome.value in ("completed", "failed", "intervention"), f"still going: {result}"
        return result

    def run(self, op_id: str) -> StepResult:
        self.engine.start(op_id)
        return self.drive(op_id)

    def op(self, op_id: str) -> Operation:
        return self.store.load(op_id)

    def events(self, op_id: str) -> list[Event]:
        return self.store.events(op_id)

    def event_types(self, op_id: str) -> list[str]:
        return [e.type for e in self.store.events(op_id)]
