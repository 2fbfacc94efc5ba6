"""`SimulatedAurora`: a slow, fallible Aurora for tests and the demo, behind real boto3 clients.

moto answers RDS calls, but there every status is `available` at once. Real Aurora has
transitional statuses that last minutes, a lag before a status moves, refusals while busy,
throttling and lost responses. The simulator adds those on top of moto, on a virtual clock,
so a test can prove that the engine never repeats a step and never trusts a status too early.

It attaches itself to a boto3 RDS client (`attach`) and answers each call from the client's own
botocore events (see `wire`): the code under test uses a genuine boto3 client, with its modelled
exceptions, and never reaches the network. The code under test is handed a client factory wrapped by
`clients(make_client)`: each client that factory makes is attached, so the simulator imports nothing of
the code it serves and nothing is registered process-wide. Leaving the `with` block detaches every
client it attached (they then go to moto, or to AWS's endpoint, unsimulated).
"""

from __future__ import annotations

import random
import weakref
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import ClientError

from rds_sim import wire
from rds_sim.catalogue import Catalogue
from rds_sim.clock import VirtualClock
from rds_sim.db_instance_timing import DbInstanceChange
from rds_sim.db_instances import DbInstanceSim
from rds_sim.errors import ApiError, SimulatedCrash, internal_failure
from rds_sim.faults import Faults
from rds_sim.moto_backend import MotoRds
from rds_sim.multi_az_changes import MultiAzChange
from rds_sim.seeding import seed_cluster, seed_db_instance, seed_global_cluster, seed_multi_az_cluster
from rds_sim.timeline import Durations, Timeline, Transition
from rds_sim.views import ClusterView, MemberView, SimCall
from rds_sim.world import AuroraWorld

_P = ParamSpec("_P")
_Client = TypeVar("_Client")


class SimulatedAurora:
    """One simulated AWS account in one region. Use inside `moto.mock_aws()`.

    Give the code under test `clients(make_client)` as its RDS client factory, or `attach` each client.
    """

    def __init__(
        self,
        clock: VirtualClock | None = None,
        region: str = "us-east-1",
        durations: Durations | None = None,
        time_scale: float = 1.0,
        seed: int = 0,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.clock = clock or VirtualClock()
        self.region = region
        self.durations = durations or Durations()
        self.catalogue = catalogue or Catalogue()
        self.faults = Faults()
        self.calls: list[SimCall] = []
        self._timeline = Timeline(self.durations, time_scale=time_scale, seed=seed)
        self._moto = MotoRds(region)
        self._world = AuroraWorld(self.clock, self._moto, self._timeline, self.faults, self.catalogue)
        # Blue/Green, RDS Proxy, parameter groups and pending maintenance: scenery and faults for tests
        # (`sim.blue_green.fail_next_switchover()`, `sim.proxies.seed_proxy(...)`, ...).
        self.blue_green = self._world.blue_green
        self.proxies = self._world.proxies
        self.parameter_groups = self._world.parameter_groups
        self.maintenance = self._world.maintenance
        self._names = random.Random(f"rds-maint-sim-names-{seed}")
        self._hook_id = f"rds-maint-sim-{id(self)}"
        self._attached: weakref.WeakSet[Any] = weakref.WeakSet()  # not kept alive by the simulator
        # Called after every call answered (a rehearsal account saves itself there; `rds_sim.account`).
        self.after_call: Callable[[], None] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """What a rehearsal account saves (`rds_sim.account`): the account, not the clients of this process."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_attached", "_hook_id", "after_call")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._hook_id = f"rds-maint-sim-{id(self)}"
        self._attached = weakref.WeakSet()
        self.after_call = None

    # -- hooking into boto3 ------------------------------------------------------------

    def clients(self, make_client: Callable[_P, _Client]) -> Callable[_P, _Client]:
        """`make_client` (a boto3 RDS client factory), each client it makes answered by this simulator."""

        def make(*args: _P.args, **kwargs: _P.kwargs) -> _Client:
            client = make_client(*args, **kwargs)
            self.attach(client)
            return client

        return make

    def __enter__(self) -> SimulatedAurora:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.detach_all()

    def attach(self, client: Any) -> None:
        """Answer every call of this boto3 RDS client from the simulator (idempotent)."""
        region = client.meta.region_name
        if region != self.region:
            raise ValueError(f"this simulator answers for {self.region}, not for a client in {region}")
        events = client.meta.events
        events.register("before-parameter-build.rds", wire.stash_params, unique_id=f"{self._hook_id}-params")
        events.register_first("before-call.rds", self._answer, unique_id=f"{self._hook_id}-answer")
        self._attached.add(client)

    def detach_all(self) -> None:
        """Stop answering the clients attached so far (the end of the `with` block)."""
        for client in list(self._attached):
            events = client.meta.events
            events.unregister("before-parameter-build.rds", unique_id=f"{self._hook_id}-params")
            events.unregister("before-call.rds", unique_id=f"{self._hook_id}-answer")
        self._attached.clear()

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> wire.Answer:
        """`before-call` handler: the simulated answer, then `after_call` (before the caller hears it)."""
        try:
            return self._respond(model, context)
        finally:
            if self.after_call is not None:
                self.after_call()

    def _respond(self, model: Any, context: dict[str, Any]) -> wire.Answer:
        """Faults first, then the simulated AWS, then faults on the answer."""
        operation = str(model.name)
        params = wire.stashed_params(context)
        call = SimCall(at=self.clock.now(), operation=operation, params=params)
        self.calls.append(call)
        try:
            refusal = self.faults.before_call(operation)
            if refusal is not None:
                raise refusal
            parsed = self._world.handle(operation, params)
        except ApiError as err:
            call.error_code = err.code
            return wire.error(err)
        except ClientError as err:  # moto's own refusal of a call passed through
            call.error_code = str(err.response.get("Error", {}).get("Code", "Unknown"))
            return wire.passthrough_error(dict(err.response))
        call.applied = True
        hide = self.faults.after_call(operation)
        if hide == "lose_response":
            lost = internal_failure()
            call.error_code = lost.code
            return wire.error(lost)
        if hide == "crash_after":
            call.crashed = True  # AWS answered normally; the caller died before reading it
            raise SimulatedCrash(f"simulated crash right after {operation} took effect")
        return wire.ok(parsed)

    # -- setting the scene ----------------------------------------------------------------

    def seed_cluster(
        self,
        cluster_id: str,
        *,
        engine: str = "aurora-postgresql",
        engine_version: str = "15.4",
        instance_class: str = "db.r6g.large",
        readers: int = 2,
        autoscaled_readers: int = 0,
        serverless_readers: int = 0,
        promotion_tier: int = 1,
        tags: dict[str, str] | None = None,
    ) -> list[str]:
        """An `available` cluster, ready at once; returns its instance ids, writer first."""
        return seed_cluster(
            self._moto,
            self.catalogue,
            self._names,
            cluster_id,
            engine=engine,
            engine_version=engine_version,
            instance_class=instance_class,
            readers=readers,
            autoscaled_readers=autoscaled_readers,
            serverless_readers=serverless_readers,
            promotion_tier=promotion_tier,
            tags=tags,
        )

    def seed_multi_az_cluster(
        self,
        cluster_id: str,
        *,
        engine: str = "postgres",
        engine_version: str = "16.4",
        instance_class: str = "db.m6gd.large",
        storage_type: str = "io1",
        allocated_storage: int = 100,
        iops: int | None = 1000,
    ) -> list[str]:
        """An `available` RDS Multi-AZ DB cluster (not Aurora); returns its instance ids, writer first."""
        return seed_multi_az_cluster(
            self._moto,
            cluster_id,
            engine=engine,
            engine_version=engine_version,
            instance_class=instance_class,
            storage_type=storage_type,
            allocated_storage=allocated_storage,
            iops=iops,
        )

    def seed_db_instance(
        self,
        instance_id: str,
        *,
        engine: str = "postgres",
        engine_version: str = "16.4",
        instance_class: str = "db.m6g.large",
        multi_az: bool = True,
        storage_type: str = "gp2",
        allocated_storage: int = 100,
        iops: int | None = None,
        storage_throughput: int | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """An `available` RDS DB instance of its own (not in a cluster); returns its id."""
        return seed_db_instance(
            self._moto,
            instance_id,
            engine=engine,
            engine_version=engine_version,
            instance_class=instance_class,
            multi_az=multi_az,
            storage_type=storage_type,
            allocated_storage=allocated_storage,
            iops=iops,
            storage_throughput=storage_throughput,
            tags=tags,
        )

    def seed_global_cluster(self, global_cluster_id: str, cluster_id: str) -> None:
        """Make the cluster the primary member of an Aurora Global Database (`GlobalClusterIdentifier` set)."""
        seed_global_cluster(self._moto, global_cluster_id, cluster_id)

    def configure_instance(self, instance_id: str, **settings: Any) -> None:
        """Set an instance's own settings as a person would (ModifyDBInstance parameter names):
        PubliclyAccessible, CACertificateIdentifier, MonitoringInterval, MonitoringRoleArn,
        EnablePerformanceInsights, PerformanceInsightsKMSKeyId, PerformanceInsightsRetentionPeriod."""
        self._world.configure_instance(instance_id, settings)

    def instance_description(self, instance_id: str) -> dict[str, Any]:
        """The instance as DescribeDBInstances shows it now (overlay applied, no faults, not recorded)."""
        self._world.settle()
        data = self._moto.instance(instance_id)
        if data is None:
            raise KeyError(f"no instance {instance_id!r}")
        return self._world.overlay_instance(data)

    def set_parameter_apply_status(self, instance_id: str, status: str) -> None:
        """Set the instance's parameter status (instance group and its cluster-member entry).

        `pending-reboot` turns `in-sync` at the end of the instance's next reboot.
        """
        self._world.set_parameter_apply_status(instance_id, status)

    def set_cluster_storage(self, cluster_id: str, storage_type: str, next_allowed: datetime | None = None) -> None:
        """Seed the cluster's storage type (`aurora` or `aurora-iopt1`) and the time AWS next allows a switch
        to I/O-Optimized (`IOOptimizedNextAllowedModificationTime`; None: no switch in the last 30 days)."""
        self._world.set_cluster_storage(cluster_id, storage_type, next_allowed)

    # -- looking without touching ---------------------------------------------------------

    @property
    def transitions(self) -> list[Transition]:
        """Every transition so far, oldest first (settled up to now, like any view)."""
        self._world.settle()
        return self._timeline.transitions

    def successful_calls(self, operation: str) -> list[SimCall]:
        """Calls of `operation` AWS answered normally (including ones whose caller then crashed)."""
        return [c for c in self.calls if c.operation == operation and c.error_code is None]

    def applied_calls(self, operation: str) -> list[SimCall]:
        """Calls of `operation` that took effect, whether or not the caller heard about it."""
        return [c for c in self.calls if c.operation == operation and c.applied]

    def cluster_view(self, cluster_id: str) -> ClusterView:
        """What a person sees now: overlay applied, no faults, not recorded in `calls`."""
        self._world.settle()
        data = self._moto.cluster(cluster_id)
        if data is None:
            raise KeyError(f"no cluster {cluster_id!r}")
        cluster = self._world.overlay_cluster(data)
        instances = {
            iid: self._world.overlay_instance(i) for iid, i in self._moto.cluster_instances(cluster_id).items()
        }
        members: dict[str, MemberView] = {}
        writer: str | None = None
        for member in cluster.get("DBClusterMembers", []):
            instance_id = str(member["DBInstanceIdentifier"])
            instance = instances.get(instance_id)
            if instance is None:
                continue
            if member.get("IsClusterWriter"):
                writer = instance_id
            groups = instance.get("DBParameterGroups") or [{}]
            members[instance_id] = MemberView(
                instance_class=str(instance["DBInstanceClass"]),
                status=str(instance["DBInstanceStatus"]),
                promotion_tier=int(instance.get("PromotionTier", member.get("PromotionTier", 1))),
                tags={str(t["Key"]): str(t.get("Value", "")) for t in instance.get("TagList") or []},
                availability_zone=instance.get("AvailabilityZone"),
                parameter_apply_status=groups[0].get("ParameterApplyStatus"),
                pending_class=(instance.get("PendingModifiedValues") or {}).get("DBInstanceClass"),
                is_writer=bool(member.get("IsClusterWriter")),
            )
        return ClusterView(
            cluster_id=cluster_id,
            status=str(cluster["Status"]),
            writer=writer,
            members=members,
            engine=str(cluster.get("Engine", "")),
            engine_version=str(cluster.get("EngineVersion", "")),
            # The truth, whatever the API shows: a Standard Aurora cluster's answer omits StorageType.
            storage_type=str(
                cluster.get("StorageType") or ("aurora" if str(cluster.get("Engine", "")).startswith("aurora") else "")
            ),
            pending_storage_type=(cluster.get("PendingModifiedValues") or {}).get("StorageType"),
            io_optimized_next_allowed=cluster.get("IOOptimizedNextAllowedModificationTime"),
        )

    def cluster_ids(self) -> list[str]:
        """Every DB cluster of the account, by name (what the console lists)."""
        self._world.settle()
        clusters = self._moto.call("DescribeDBClusters", {})["DBClusters"]
        return sorted(str(c["DBClusterIdentifier"]) for c in clusters)

    def instance_exists(self, instance_id: str) -> bool:
        """True until a deletion ends (an instance still `deleting` exists)."""
        self._world.settle()
        return self._moto.instance(instance_id) is not None

    def settle(self) -> None:
        """Apply every transition due by now (every call and view does this first anyway)."""
        self._world.settle()

    # -- Multi-AZ DB clusters ---------------------------------------------------------------

    def multi_az_changes(self) -> list[MultiAzChange]:
        """Every change a Multi-AZ DB cluster accepted (ModifyDBCluster, reboots, failovers), oldest first."""
        self._world.settle()
        return list(self._world.multi_az.changes)

    def multi_az_cluster(self, cluster_id: str) -> dict[str, Any]:
        """The cluster as DescribeDBClusters shows it now (overlay applied, no faults, not recorded)."""
        self._world.settle()
        data = self._moto.cluster(cluster_id)
        if data is None:
            raise KeyError(f"no cluster {cluster_id!r}")
        return self._world.overlay_cluster(data)

    # -- DB instances (RDS MySQL, MariaDB, PostgreSQL outside any cluster): rds_sim.db_instances ---------

    @property
    def db_instances(self) -> DbInstanceSim:
        """The DB-instance simulator (its `durations` may be replaced before a test acts)."""
        return self._world.db_instances

    def set_last_storage_change(self, instance_id: str, at: datetime, optimizing_until: datetime | None = None) -> None:
        """Seed when the instance's last storage modification ended (the next one waits 6 hours from it) and,
        if given, until when it reads `storage-optimization`."""
        self._world.settle()
        self._world.db_instances.set_last_storage_change(instance_id, at, optimizing_until)

    def storage_change_allowed_at(self, instance_id: str) -> datetime | None:
        """When AWS next accepts a storage change of the instance (None: now, as far as past changes go)."""
        self._world.settle()
        return self._world.db_instances.storage_allowed_at(instance_id)

    def db_instance_changes(self, instance_id: str) -> list[DbInstanceChange]:
        """The instance's accepted changes, oldest first, with their instants, outages, failovers and events."""
        self._world.settle()
        return self._world.db_instances.changes_of(instance_id)

    def db_instance_outages(self, instance_id: str) -> list[tuple[datetime, datetime]]:
        """The spans in which the instance took no connections, begun by now (start, end)."""
        self._world.settle()
        return self._world.db_instances.outages(instance_id)
