"""A campaign driven in one process on the simulated account: slots, canary, refusals, pauses, crashes, budget.

What is asserted is what a person would notice: the clusters' instance classes on the (simulated) AWS side,
which operations exist, when each ran, and the rate the record says the campaign used.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from rds_maint import wiring
from rds_maint.campaign import planner, schedule
from rds_maint.campaign.local import DriveOutcome, drive_campaign
from rds_maint.campaign_model import Campaign, CampaignEvent, CampaignRequest, CampaignState, CampaignTarget
from rds_maint.config import Settings
from rds_maint.engine import Engine
from rds_maint.errors import BadInput
from rds_maint.model import StepResult
from tests.helpers.world import REGION, World

TARGET_CLASS = "db.r6gd.xlarge"  # NVMe class: Aurora PostgreSQL 14.9+/15.4+ only, so 13.12 fails preflight


def seed(world: World, count: int, *, old_at: tuple[int, ...] = ()) -> list[str]:
    ids = [f"shop-{n:02d}" for n in range(count)]
    for n, cluster in enumerate(ids):
        world.sim.seed_cluster(cluster, engine_version="13.12" if n in old_at else "15.4", readers=1)
    return ids


def counted_engine(world: World) -> Engine:
    return world.engine_for(Settings.from_env(world.store_url, REGION))


def plan_of(engine: Engine, targets: list[str], **kw: Any) -> planner.CampaignPlan:
    fields: dict[str, Any] = {
        "type": "instance_type_change",
        "target_ids": targets,
        "region": REGION,
        "params": {"target_instance_type": TARGET_CLASS},
        "max_concurrency": 5,
        "wait_timeout": 900,
    }
    fields.update(kw)
    return planner.plan_campaign(engine, CampaignRequest(**fields), "c-test")


def make_campaign(world: World, engine: Engine, targets: list[str], **kw: Any) -> Campaign:
    plan = plan_of(engine, targets, **kw)
    return world.store.create_campaign(planner.campaign_of(plan, world.clock.now()))


class Recorder:
    """A listener that keeps what it was told, and can act on a target's start (arm a fault) or crash."""

    def __init__(self, world: World, crash_after: int | None = None) -> None:
        self.world = world
        self.crash_after = crash_after
        self.advances = 0
        self.started: list[str] = []
        self.events: list[CampaignEvent] = []
        self.on_start: dict[str, Any] = {}

    def campaign_changed(self, campaign: Campaign, events: list[CampaignEvent]) -> None:
        self.events.extend(events)

    def target_started(self, campaign: Campaign, target: CampaignTarget) -> None:
        self.started.append(target.target_id)
        action = self.on_start.get(target.target_id)
        if action is not None:
            action()

    def target_advanced(self, campaign: Campaign, target: CampaignTarget, result: StepResult) -> None:
        self.advances += 1
        if self.crash_after is not None and self.advances >= self.crash_after:
            raise SystemExit("the driver died")

    def waiting(self, campaign: Campaign, seconds: float) -> None:
        pass


def drive(world: World, engine: Engine, listener: Recorder | None = None) -> DriveOutcome:
    return drive_campaign(engine, "c-test", world.clock.sleep, listener, requests=lambda: wiring.aws_requests(engine))


def classes(world: World, cluster: str) -> set[str]:
    return {m.instance_class for m in world.sim.cluster_view(cluster).members.values()}


def busiest_minute(world: World) -> int:
    """The most RDS calls the simulator answered in any 60 s of its clock (each window starting on a call)."""
    times = sorted(c.at for c in world.sim.calls)
    return max((bisect.bisect_left(times, t + timedelta(seconds=60)) - n for n, t in enumerate(times)), default=0)


def most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans], key=lambda e: (e[0], e[1]))
    return max(itertools.accumulate(step for _, step in edges))


def test_twenty_clusters_canary_first_five_at_a_time_one_refused_one_paused(world: World) -> None:
    clusters = seed(world, 20, old_at=(7,))
    engine = counted_engine(world)
    plan = plan_of(engine, clusters)
    with pytest.raises(BadInput, match="1 of 20 targets fail preflight") as refused:
        planner.campaign_of(plan, world.clock.now())
    assert f"shop-07: {plan.targets[7].refusal}" in str(refused.value)
    assert world.store.campaigns() == [] and world.store.list_operations() == []

    skipping = replace(plan, request=plan.request.model_copy(update={"skip_refused": True}))
    campaign = world.store.create_campaign(planner.campaign_of(skipping, world.clock.now()))
    listener = Recorder(world)
    stuck_reader = "shop-12-instance-2"
    listener.on_start["shop-12"] = lambda: world.sim.faults.stuck(stuck_reader, status="modifying")

    outcome = drive(world, engine, listener)

    record = world.store.load_campaign(campaign.id)
    assert [t.target_id for t in outcome.blocked] == ["shop-12"]
    assert record.state is CampaignState.RUNNING  # only a person can move it on
    paused = record.target("shop-12")
    assert paused.operation_state == "paused" and "could not act" in (paused.reason or "")
    counts = record.counts()
    assert counts["completed"] == 18 and counts["refused"] == 1 and counts["running"] == 1
    for cluster in clusters:
        if cluster not in ("shop-07", "shop-12"):
            assert classes(world, cluster) == {TARGET_CLASS}, cluster  # AWS's state, not only the record's
    assert classes(world, "shop-07") == {"db.r6g.large"}  # refused: never touched
    assert "shop-07" not in listener.started

    operations = {op.id: op for op in world.store.list_operations()}
    canary = record.targets[0]
    canary_op = operations[canary.operation_id]
    assert canary_op.completed_at is not None
    others = [op for op in operations.values() if op.id != canary.operation_id]
    assert len(others) == 18
    assert all(op.started_at is not None and op.started_at >= canary_op.completed_at for op in others)
    spans = [
        (op.started_at, op.completed_at or world.clock.now()) for op in operations.values() if op.started_at is not None
    ]
    assert most_at_once(spans) == 5  # full, never over
    assert all(op.campaign_id == campaign.id and op.min_look_seconds > 0 for op in operations.values())

    # a person clears the cause and answers; the next drive carries the paused target on to the end
    world.sim.faults.unstick(stuck_reader)
    engine.resume(paused.operation_id, "continue", "the other change finished")
    finished = drive(world, counted_engine(world))
    assert finished.campaign.state is CampaignState.COMPLETED and finished.blocked == []
    assert classes(world, "shop-12") == {TARGET_CLASS}


def test_a_driver_that_dies_mid_campaign_is_carried_on_without_doing_anything_twice(world: World) -> None:
    clusters = seed(world, 6)
    engine = counted_engine(world)
    make_campaign(world, engine, clusters, max_concurrency=3)
    with pytest.raises(SystemExit):
        drive(world, engine, Recorder(world, crash_after=80))
    died = world.store.load_campaign("c-test")
    assert died.state is CampaignState.RUNNING
    done_before = {t.target_id for t in died.targets if t.state.value == "completed"}
    running_before = {t.target_id for t in died.targets if t.state.value == "running"}
    assert done_before and running_before, died.counts()  # it died with some done and some under way
    modifies_before = Counter(c.params["DBInstanceIdentifier"] for c in world.sim.successful_calls("ModifyDBInstance"))

    second = Recorder(world)
    outcome = drive(world, counted_engine(world), second)  # a fresh process on the same record

    assert outcome.campaign.state is CampaignState.COMPLETED
    assert all(classes(world, c) == {TARGET_CLASS} for c in clusters)
    operations = world.store.list_operations()
    assert Counter(op.cluster_id for op in operations) == {c: 1 for c in clusters}  # one operation per cluster
    creates = Counter(c.params["DBInstanceIdentifier"] for c in world.sim.successful_calls("CreateDBInstance"))
    assert all(n == 1 for n in creates.values()), creates  # each temp instance made once
    assert not done_before & set(second.started)  # a completed target is not started again
    modifies = Counter(c.params["DBInstanceIdentifier"] for c in world.sim.successful_calls("ModifyDBInstance"))
    for cluster in done_before:
        touched = {i: n for i, n in modifies.items() if i.startswith(cluster)}
        assert touched == {i: n for i, n in modifies_before.items() if i.startswith(cluster)}


@pytest.mark.parametrize("budget", [0.5, 2.0])
def test_the_rate_stays_within_the_budget_over_every_window(world: World, budget: float) -> None:
    clusters = seed(world, 6)
    engine = counted_engine(world)
    make_campaign(world, engine, clusters, max_concurrency=6, canary=0, budget_rps=budget)
    planning = world.store.load_campaign("c-test").rate
    assert planning.requests == len(world.sim.calls) > 0 and planning.started_at is not None
    outcome = drive(world, engine)
    rate = outcome.campaign.rate
    assert outcome.campaign.state is CampaignState.COMPLETED
    # every request counted, the planning's with the drive's (the campaign's rate starts with its planning)
    assert rate.requests == wiring.aws_requests(engine) == len(world.sim.calls)
    assert rate.started_at == planning.started_at
    assert 0 < rate.peak_rps <= budget, rate
    assert busiest_minute(world) <= budget * 60  # on AWS's side too, planning and drive together
    assert rate.mean_rps <= budget
    floor = {op.min_look_seconds for op in world.store.list_operations()}
    assert floor == {min(-(-6 * 2 // budget), 120)}  # ceil(concurrency * 2 requests per look / budget)


@pytest.mark.parametrize(
    ("tolerance", "ended", "last"), [(1, CampaignState.COMPLETED, "completed"), (0, CampaignState.FAILED, "skipped")]
)
def test_a_target_refused_when_its_turn_comes_fails_and_the_tolerance_decides(
    world: World, tolerance: int, ended: CampaignState, last: str
) -> None:
    clusters = seed(world, 4)
    engine = counted_engine(world)
    make_campaign(world, engine, clusters, max_concurrency=1, failure_tolerance={"count": tolerance})
    listener = Recorder(world)
    elsewhere: list[str] = []

    def someone_else_starts_on_shop_02() -> None:
        op = world.engine.create({"type": "instance_cycle", "cluster_id": "shop-02", "region": REGION, "params": {}})
        world.engine.start(op.id)
        elsewhere.append(op.id)

    # the cluster changed since the plan: when its turn comes another operation holds it
    listener.on_start["shop-01"] = someone_else_starts_on_shop_02
    outcome = drive(world, engine, listener)
    record = outcome.campaign
    assert record.state is ended, record.history
    failed = record.target("shop-02")
    assert failed.state.value == "failed" and (failed.reason or "").startswith("refused when starting")
    assert elsewhere and elsewhere[0] in (failed.reason or "")
    assert classes(world, "shop-02") == {"db.r6g.large"}
    assert [t.state.value for t in record.targets] == ["completed", "completed", "failed", last]
    assert not any(op.cluster_id == "shop-02" and op.campaign_id for op in world.store.list_operations())
    assert classes(world, "shop-03") == ({TARGET_CLASS} if last == "completed" else {"db.r6g.large"})


def test_with_approve_waves_the_drive_stops_after_each_wave_until_a_person_resumes(world: World) -> None:
    clusters = seed(world, 3)
    engine = counted_engine(world)
    make_campaign(world, engine, clusters, approve_waves=True, wave_size=2)
    first = drive(world, engine)
    assert first.campaign.state is CampaignState.AWAITING_APPROVAL and first.blocked == []
    assert [t.state.value for t in first.campaign.targets] == ["completed", "pending", "pending"]
    assert classes(world, "shop-01") == {"db.r6g.large"}  # the next wave has not started

    record = world.store.load_campaign("c-test")
    schedule.resume(record, "alice", world.clock.now(), "canary looks fine")
    world.store.save_campaign(record)
    second = drive(world, counted_engine(world))
    assert second.campaign.state is CampaignState.COMPLETED
    assert all(classes(world, c) == {TARGET_CLASS} for c in clusters)


def test_a_campaign_paused_by_a_person_starts_nothing_new_and_pauses_its_running_operations(world: World) -> None:
    clusters = seed(world, 3)
    engine = counted_engine(world)
    make_campaign(world, engine, clusters, max_concurrency=2, canary=0)
    listener = Recorder(world)

    def alice_pauses_the_campaign() -> None:  # from another terminal, while this driver runs
        record = world.store.load_campaign("c-test")
        schedule.pause(record, "alice", world.clock.now(), "a release is going out")
        world.store.save_campaign(record)

    listener.on_start["shop-01"] = alice_pauses_the_campaign
    outcome = drive(world, engine, listener)

    assert outcome.campaign.state is CampaignState.PAUSED
    assert sorted(t.target_id for t in outcome.blocked) == ["shop-00", "shop-01"]
    for target in outcome.blocked:
        op = world.store.load(target.operation_id)
        assert op.state.value == "paused", op.pause_reason
        assert "campaign c-test" in (op.pause_reason or ""), op.pause_reason
    assert listener.started == ["shop-00", "shop-01"]
    assert not any(op.cluster_id == "shop-02" for op in world.store.list_operations())

    record = world.store.load_campaign("c-test")
    schedule.resume(record, "alice", world.clock.now())
    world.store.save_campaign(record)
    for target in outcome.blocked:
        engine.resume(target.operation_id, "continue")
    finished = drive(world, counted_engine(world))
    assert finished.campaign.state is CampaignState.COMPLETED
    assert all(classes(world, c) == {TARGET_CLASS} for c in clusters)


def test_a_driver_picking_up_after_a_crash_right_after_a_burst_waits_for_the_dead_drivers_window(
    world: World,
) -> None:
    clusters = seed(world, 4)
    engine = counted_engine(world)
    make_campaign(world, engine, clusters, max_concurrency=3, canary=0, budget_rps=0.5)
    first = Recorder(world)

    def crash() -> None:
        raise SystemExit("the driver died")

    first.on_start[clusters[2]] = crash  # told after the save of the three starts: the burst is in the record
    with pytest.raises(SystemExit):
        drive(world, engine, first)
    died = world.store.load_campaign("c-test")
    assert died.counts()["running"] == 3
    died_at, calls_before = world.clock.now(), len(world.sim.calls)
    assert died.rate.requests == calls_before  # planning and the three starts, all saved
    assert died.rate.tally.in_window(died_at), "the record keeps the last minute's slots"

    outcome = drive(world, counted_engine(world), Recorder(world))  # a fresh process, at once

    assert outcome.campaign.state is CampaignState.COMPLETED
    assert all(classes(world, c) == {TARGET_CLASS} for c in clusters)
    first_call_after = world.sim.calls[calls_before].at
    assert first_call_after > died_at  # its first look waited for room in the dead driver's window
    assert busiest_minute(world) <= 0.5 * 60  # no minute over the budget, across the crash
    assert outcome.campaign.rate.requests == len(world.sim.calls)  # the dead driver's requests and its own


def test_planning_many_targets_keeps_to_the_budget_on_aws_side(world: World) -> None:
    clusters = seed(world, 40)
    plan = plan_of(counted_engine(world), clusters, budget_rps=1.0)
    assert len(plan.runnable) == 40
    assert plan.requests == len(world.sim.calls) > 60  # more than a minute's allowance at 1 req/s in all
    assert busiest_minute(world) <= 60  # yet no minute of AWS's calls over it
    assert plan.rate.peak_rps <= 1.0
