"""Reboot waits on the simulated Aurora: few, small reads, and the restart recognised however it shows.

What a user notices: how much of the account's shared RDS request budget (~12 requests/s) a rolling reboot
spends while it waits, that it never reads the whole cluster while a member restarts (that answer grows with
the cluster), and that a reboot ends the step whether a look saw it, AWS reported it, or neither (then a
person is asked, as for any wait that never ends). Calls are counted, never timed.
"""

from __future__ import annotations

import functools
import itertools
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from rds_maint.actions.polling import PollPolicy
from rds_maint.engine import Engine
from rds_maint.model import Operation, Outcome, Step, StepResult, StepState
from rds_maint.progress import drive
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import FileStore
from rds_sim import SimulatedAurora, VirtualClock
from rds_sim.views import SimCall
from tests.helpers.fake_rds import store_root
from tests.helpers.world import CLUSTER, REGION, World

WRITER = f"{CLUSTER}-instance-1"
READER_2 = f"{CLUSTER}-instance-2"
READER_3 = f"{CLUSTER}-instance-3"
ADAPTIVE, FIXED = "adaptive", "fixed 30 s"
POLICIES = {ADAPTIVE: PollPolicy(), FIXED: PollPolicy(fixed=30)}
# A big cluster. 7 readers, not Aurora's most (15): what is asserted holds per reboot step, and a step's looks
# and reads do not depend on how many members there are (the whole-cluster answer grows, its count does not);
# the 1+15 cycles cost ~4x as much (each of 16 steps reads 16 members) and reached the same branches (arc
# coverage compared).
MANY = 7


@dataclass(frozen=True)
class StepReads:
    """The RDS calls one reboot step made, in its run turns and its looks, and its member's reboot."""

    calls: tuple[tuple[str, SimCall], ...]  # ("run" | "check", call)
    restart: tuple[Any, Any]  # the member's reboot: (visible_at, ends_at) in the simulator

    @property
    def describes(self) -> list[SimCall]:
        return [c for _, c in self.calls if c.operation.startswith("Describe")]

    def cluster_describes_while_restarting(self) -> list[SimCall]:
        start, end = self.restart
        return [
            c
            for attempt, c in self.calls
            if attempt == "check" and c.operation == "DescribeDBClusters" and start <= c.at < end
        ]


class Attribution:
    """Which step the engine was running or checking when each RDS call was made (the engine's own calls
    between actions belong to none)."""

    def __init__(self, sim: SimulatedAurora) -> None:
        self.sim = sim
        self.marks: list[tuple[int, str | None, str | None]] = []

    def on_attempt(self, op: Operation, step: Step, attempt: str) -> None:
        self.marks.append((len(self.sim.calls), step.name, attempt))

    def watch(self, engine: Engine) -> None:
        advance = engine.advance

        def marked(op_id: str) -> StepResult:
            self.marks.append((len(self.sim.calls), None, None))
            return advance(op_id)

        engine.advance = marked  # type: ignore[method-assign,assignment]

    def by_step(self) -> dict[str, list[tuple[str, SimCall]]]:
        out: dict[str, list[tuple[str, SimCall]]] = {}
        bounds = [*self.marks, (len(self.sim.calls), None, None)]
        for (start, step, attempt), (end, _, _) in itertools.pairwise(bounds):
            if step is not None and attempt is not None:
                out.setdefault(step, []).extend((attempt, c) for c in self.sim.calls[start:end])
        return out


def reboot_reads(sim: SimulatedAurora, attribution: Attribution, op: Operation) -> dict[str, StepReads]:
    calls = attribution.by_step()
    out = {}
    for step in op.steps:
        if step.action != "reboot_instance":
            continue
        instance_id = step.parameters["instance_id"]
        [reboot] = [t for t in sim.transitions if t.kind == "reboot" and t.resource_id == instance_id]
        out[step.name] = StepReads(tuple(calls.get(step.name, [])), (reboot.visible_at, reboot.ends_at))
    return out


@functools.cache
def cycle(readers: int, policy: str, pending: bool) -> dict[str, StepReads]:
    """An instance_cycle of a 1+N cluster on its own simulated account, driven to the end; per reboot step,
    what it read. The same cluster and operation id for every policy, so the simulated timelines match."""
    with mock_aws(), tempfile.TemporaryDirectory() as fallback, store_root(Path(fallback)) as tmp:
        clock = VirtualClock()
        with SimulatedAurora(clock=clock, region=REGION) as sim:
            ids = sim.seed_cluster(CLUSTER, readers=readers)
            if pending:
                for instance_id in ids:
                    sim.set_parameter_apply_status(instance_id, "pending-reboot")
            attribution = Attribution(sim)
            clients = sim.clients(make_rds_client)
            store = FileStore(tmp)
            engine = Engine(
                store,
                lambda region: RdsGateway(clients(region), sleep=clock.sleep),
                clock,
                POLICIES[policy],
                on_attempt=attribution.on_attempt,
            )
            engine._new_id = lambda cluster_id: f"{cluster_id}-looks"  # type: ignore[method-assign]
            params = {"only_pending_reboot": True} if pending else {}
            op = engine.create({"type": "instance_cycle", "cluster_id": CLUSTER, "region": REGION, "params": params})
            attribution.watch(engine)
            engine.start(op.id)
            result = drive(engine, op.id, clock.sleep)
            assert result.outcome is Outcome.COMPLETED, result.pause_reason
            reboots = Counter(c.params["DBInstanceIdentifier"] for c in sim.applied_calls("RebootDBInstance"))
            assert reboots == dict.fromkeys(ids, 1)
            return reboot_reads(sim, attribution, store.load(op.id))


# -- describes per wait --------------------------------------------------------------------------------


@pytest.mark.parametrize("readers", [1, MANY])
def test_each_reboot_wait_makes_no_more_describes_than_a_fixed_30_s_poll(readers: int) -> None:
    adaptive, fixed = cycle(readers, ADAPTIVE, True), cycle(readers, FIXED, True)
    assert set(adaptive) == set(fixed) and len(adaptive) == readers + 1
    more = {
        name: (len(waits.describes), len(fixed[name].describes))
        for name, waits in adaptive.items()
        if len(waits.describes) > len(fixed[name].describes)
    }
    assert more == {}


@pytest.mark.parametrize("policy", [ADAPTIVE, FIXED])
def test_a_reboot_reads_the_whole_cluster_once_and_again_only_for_a_pending_cluster_parameter_group(
    policy: str,
) -> None:
    """Before the call, the member, the writer and its parameters; while it restarts, only the member."""
    for pending, expected in ((False, 1), (True, 2)):
        for name, reads in cycle(3, policy, pending).items():
            clusters = [c for c in reads.describes if c.operation == "DescribeDBClusters"]
            assert len(clusters) == expected, (name, pending)
            looks = [c for attempt, c in reads.calls if attempt == "check" and c.operation.startswith("Describe")]
            whole = [c for c in looks if c.operation == "DescribeDBInstances" and "Filters" in c.params]
            assert len(whole) == expected - 1, (name, pending)  # the member alone, by its identifier


@pytest.mark.parametrize("readers", [1, MANY])
def test_no_describe_of_the_whole_cluster_while_a_member_restarts(readers: int) -> None:
    for policy in POLICIES:
        for pending in (False, True):
            if readers == MANY and not pending:
                continue  # the pending cycle of 1+MANY is the one the other tests run
            for name, reads in cycle(readers, policy, pending).items():
                assert reads.cluster_describes_while_restarting() == [], (policy, name)


@pytest.mark.parametrize("readers", [1, MANY])
def test_no_two_reads_of_a_reboot_wait_closer_than_ten_seconds(readers: int) -> None:
    for policy in POLICIES:
        for name, reads in cycle(readers, policy, True).items():
            instants = sorted({c.at for c in reads.describes})
            gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(instants)]
            assert all(gap >= 10 for gap in gaps), (policy, name, gaps)


def test_the_turn_that_calls_reboot_reads_nothing_first(world: World, cluster_1w2r: list[str]) -> None:
    """The mark's read is seconds old; reading again would only spend budget (AWS refuses a busy instance)."""
    attribution = Attribution(world.sim)
    engine = Engine(world.store, world.gateway, world.clock, PollPolicy(), on_attempt=attribution.on_attempt)
    op = engine.create(_rolling_readers())
    attribution.watch(engine)
    engine.start(op.id)
    assert drive(engine, op.id, world.clock.sleep).outcome is Outcome.COMPLETED
    for name, calls in attribution.by_step().items():
        if not name.startswith("reboot:"):
            continue
        reboot_at = next(i for i, (_, c) in enumerate(calls) if c.operation == "RebootDBInstance")
        before = [c.operation for _, c in calls[:reboot_at]]
        # the mark's turn: the cluster (DescribeDBClusters + its DescribeDBInstances); nothing in the next one
        assert before == ["DescribeDBClusters", "DescribeDBInstances"], name
        assert calls[reboot_at - 1][1].at == calls[reboot_at][1].at


# -- how a restart is recognised ------------------------------------------------------------------------


def _rolling_readers(**extra: Any) -> dict[str, Any]:
    """A rolling reboot of the two readers (nothing pending): no temp instance, no failover."""
    return {
        "type": "instance_cycle",
        "cluster_id": CLUSTER,
        "region": REGION,
        "params": {"exclude_instances": [WRITER]},
        **extra,
    }


def _until_waiting(world: World, op_id: str, step_name: str) -> None:
    """Advance (without moving the clock) until the reboot step has called RebootDBInstance and waits."""
    world.engine.start(op_id)
    while True:
        step = next(s for s in world.store.load(op_id).steps if s.name == step_name)
        if step.state is StepState.WAITING:
            return
        world.engine.advance(op_id)


def _step(world: World, op_id: str, name: str) -> Step:
    return next(s for s in world.store.load(op_id).steps if s.name == name)


def _reboots(world: World) -> Counter[str]:
    return Counter(c.params["DBInstanceIdentifier"] for c in world.sim.applied_calls("RebootDBInstance"))


class EventLoss:
    """RDS events are best effort ("might be out of sequence or missing", RDS user guide): while `on`, every
    DescribeEvents answers none, whatever AWS recorded. Attached to each RDS client the world makes."""

    def __init__(self) -> None:
        self.on = True

    def attach(self, client: Any) -> None:
        client.meta.events.register("after-call.rds.DescribeEvents", self._answer)

    def _answer(self, parsed: dict[str, Any], **_: Any) -> None:
        if self.on:
            parsed["Events"] = []


def _lose_events(world: World) -> EventLoss:
    loss = EventLoss()
    world.recorders.append(loss.attach)
    return loss


def test_a_reboot_no_look_saw_is_recognised_from_its_restart_event(world: World, cluster_1w2r: list[str]) -> None:
    op = world.engine.create(_rolling_readers())
    _until_waiting(world, op.id, f"reboot:{READER_2}")
    world.clock.advance(300)  # the reboot (about a minute) went by between two looks
    assert world.sim.cluster_view(CLUSTER).members[READER_2].status == "available"
    before = len(world.sim.calls)
    world.engine.advance(op.id)
    step = _step(world, op.id, f"reboot:{READER_2}")
    assert step.state is StepState.COMPLETED, step.wait_condition
    assert "left_available_at" not in step.result  # no look saw it rebooting: the event told
    assert [c.operation for c in world.sim.calls[before:]] == ["DescribeDBInstances", "DescribeEvents"]
    assert world.run(op.id).outcome is Outcome.COMPLETED
    assert _reboots(world) == {READER_2: 1, READER_3: 1}


def test_missing_events_do_not_matter_when_a_look_saw_the_restart(world: World, cluster_1w2r: list[str]) -> None:
    _lose_events(world)
    result = world.run(world.engine.create(_rolling_readers()).id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert _reboots(world) == {READER_2: 1, READER_3: 1}


def test_a_reboot_no_look_saw_with_its_events_missing_asks_a_person_and_is_never_repeated(
    world: World, cluster_1w2r: list[str]
) -> None:
    loss = _lose_events(world)
    op = world.engine.create(_rolling_readers(wait_timeout=600))
    _until_waiting(world, op.id, f"reboot:{READER_2}")
    world.clock.advance(300)
    paused = world.run(op.id)
    assert paused.outcome is Outcome.INTERVENTION and paused.step_name == f"reboot:{READER_2}"
    assert "Timed out" in str(paused.pause_reason) and "begin its reboot" in str(paused.pause_reason)
    assert _reboots(world) == {READER_2: 1}
    # the events show up after all (or a person checked): continue looks again, and one look ends the step
    loss.on = False
    world.engine.resume(op.id, "continue")
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert _reboots(world) == {READER_2: 1, READER_3: 1}


def test_a_pending_member_no_look_saw_restart_is_recognised_from_its_parameters_without_events(
    world: World, cluster_1w2r: list[str]
) -> None:
    _lose_events(world)
    world.sim.set_parameter_apply_status(READER_2, "pending-reboot")
    op = world.engine.create(
        {"type": "instance_cycle", "cluster_id": CLUSTER, "region": REGION, "params": {"only_pending_reboot": True}}
    )
    _until_waiting(world, op.id, f"reboot:{READER_2}")
    world.clock.advance(300)
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert _reboots(world) == {READER_2: 1}
    assert _step(world, op.id, f"reboot:{READER_2}").result["parameter_status"] == ["in-sync", "in-sync"]


# -- the simulator says what AWS says ----------------------------------------------------------------------


Reboot = Callable[[World], tuple[str, list[str]]]


def _aurora_member(world: World) -> tuple[str, list[str]]:
    world.sim.seed_cluster(CLUSTER, readers=1)
    return READER_2, ["DB instance shutdown", "DB instance restarted"]


def _multi_az_member(world: World) -> tuple[str, list[str]]:
    ids = world.sim.seed_multi_az_cluster("orders-maz")
    return ids[1], ["DB instance shutdown", "DB instance restarted"]


def _db_instance(world: World) -> tuple[str, list[str]]:
    world.sim.seed_db_instance("orders-db", multi_az=False)
    return "orders-db", ["DB instance shutdown.", "DB instance restarted."]


@pytest.mark.parametrize("seed", [_aurora_member, _multi_az_member, _db_instance], ids=lambda f: f.__name__[1:])
def test_a_simulated_reboot_reports_the_shutdown_and_restart_events_aws_documents(world: World, seed: Reboot) -> None:
    """RDS-EVENT-0004 "DB instance shutdown" and RDS-EVENT-0006 "DB instance restarted" (RDS user guide, "Amazon
    RDS event categories and event messages"), in the availability category, in that order."""
    instance_id, expected = seed(world)
    rds = world.gateway()
    start = world.clock.now()
    rds.reboot_instance(instance_id)
    world.clock.advance(600)
    events = rds.instance_events(instance_id, start)
    assert [m for _, m in events] == expected
    assert events[0][0] < events[1][0]
    raw = world.rds_client().describe_events(SourceType="db-instance", SourceIdentifier=instance_id, StartTime=start)
    assert {c for e in raw["Events"] for c in e["EventCategories"]} == {"availability"}
