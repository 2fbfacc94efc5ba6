"""The engine counts a campaign target's RDS requests into its record (`Operation.requests`, by
`EngineCore.count_requests` with each save): what the simulator answered for the operation, call by call,
the release of the target's mark after its final save too (one more save keeps it). Each engine call that
saves begins by forgetting what was sent before it, so through the Lambda handler one warm engine serving
two operations in turn gives each only its own calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rds_maint.config import Settings
from rds_maint.engine import Engine
from rds_maint.errors import Conflict
from rds_maint.lambda_handler import make_handler
from rds_maint.model import Event, Operation
from rds_sim.views import SimCall
from tests.helpers.meters import MARK_RELEASE, SetMeter
from tests.helpers.world import CLUSTER, REGION, World, simulated_world

CAMPAIGN = "c-tally"
PARAMS = {"target_instance_type": "db.r6g.xlarge"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The simulated account (the units' own `world` is a fake RDS: its calls are not counted by boto3)."""
    with simulated_world(tmp_path) as made:
        yield made


def seed(world: World, cluster: str = CLUSTER) -> None:
    world.sim.seed_cluster(
        cluster, engine="aurora-postgresql", engine_version="15.4", instance_class="db.r6g.large", readers=1
    )


def metered(world: World) -> Engine:
    """The drivers' engine (`wiring.build_engine`): its meter counts every RDS call its clients send."""
    return world.engine_for(Settings(store_url=world.store_url, region=REGION))


def request_of(cluster: str) -> dict[str, Any]:
    return {"type": "instance_type_change", "cluster_id": cluster, "region": REGION, "params": PARAMS}


def campaign_target(engine: Engine, cluster: str = CLUSTER) -> Operation:
    """What the campaign gate does: preview, then create under the campaign's id."""
    return engine.create_from_preview(engine.preview(request_of(cluster), REGION), campaign_id=CAMPAIGN)


def tallied(world: World, op_id: str) -> int:
    requests = world.store.load(op_id).requests
    assert requests is not None
    return requests.requests


def names(calls: list[SimCall]) -> list[str]:
    return [c.operation for c in calls]


@dataclass(frozen=True)
class Saved:
    """One save as the store answered it."""

    version: int
    state: str
    requests: int
    events: int


def record_saves(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[Saved]:
    """Every save of `engine`'s store from now on, in order."""
    saves: list[Saved] = []
    save = engine.store.save

    def recording(record: Operation, events: list[Event]) -> Operation:
        saved = save(record, events)
        tally = saved.requests.requests if saved.requests is not None else -1
        saves.append(Saved(saved.version, saved.state.value, tally, len(events)))
        return saved

    monkeypatch.setattr(engine.store, "save", recording)
    return saves


def test_a_campaign_target_counts_its_preview_at_create_and_each_calls_requests_after_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(world)
    engine = metered(world)
    saves = record_saves(engine, monkeypatch)
    before = len(world.sim.calls)
    op = campaign_target(engine)
    assert op.requests is not None and op.requests.requests == len(world.sim.calls) - before > 0
    assert op.requests == world.store.load(op.id).requests, "the count is in the stored record"

    started = len(world.sim.calls)
    result, seen, looks = engine.start(op.id), op.requests.requests, 0
    while True:
        made = world.sim.calls[started:]
        started = len(world.sim.calls)
        now = tallied(world, op.id)
        if world.store.load(op.id).state.is_final:
            break
        assert now - seen == len(made), (result.step_name, names(made))
        seen, looks = now, looks + 1
        world.clock.sleep(result.wait_seconds or 1)
        result = engine.advance(op.id)

    assert result.outcome.value == "completed" and looks > 10
    assert tuple(names(made[-3:])) == MARK_RELEASE, names(made)
    [released] = made[-1:]
    assert released.params["TagKeys"] == ["rds-maint:active-operation"] and CLUSTER in released.params["ResourceName"]
    assert now - seen == len(made), "the last call's saves count all it sent, the mark's release too"
    final, release = saves[-2:]
    assert final.state == "completed" and release.state == "completed"
    assert release.requests - final.requests == len(MARK_RELEASE), "one more save keeps the release"
    assert release.version == final.version + 1 and release.events == 0, "the count is all that save changed"
    run = world.sim.calls[before:]
    assert now == len(run)
    assert {m.instance_class for m in world.sim.cluster_view(CLUSTER).members.values()} == {"db.r6g.xlarge"}


def test_an_operation_of_no_campaign_keeps_no_tally(world: World) -> None:
    seed(world)
    engine = metered(world)
    op = engine.create(request_of(CLUSTER), REGION)
    assert op.requests is None
    engine.start(op.id)
    for _ in range(3):
        engine.advance(op.id)
    assert world.store.load(op.id).requests is None


def test_a_save_lost_to_a_conflict_does_not_count_its_requests_into_a_later_save(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The winner's record is the one kept: what the loser sent is not carried into the next save."""
    seed(world)
    engine = metered(world)
    op = campaign_target(engine)
    created = tallied(world, op.id)

    save = engine.store.save
    lost: list[int] = []

    def losing_save(record: Operation, events: list[Event]) -> Operation:
        if not lost:
            lost.append(record.requests.requests if record.requests else -1)
            raise Conflict("another writer saved first")
        return save(record, events)

    monkeypatch.setattr(engine.store, "save", losing_save)
    before = len(world.sim.calls)
    answer = engine.start(op.id)
    sent_by_loser = len(world.sim.calls) - before
    assert sent_by_loser > 0 and (answer.error or "").startswith("conflict"), names(world.sim.calls[before:])
    assert lost == [created + sent_by_loser], "the lost save had counted them"
    assert tallied(world, op.id) == created, "the record holds the winner's count"
    before = len(world.sim.calls)
    engine.start(op.id)
    assert tallied(world, op.id) == created + len(world.sim.calls) - before


def test_forget_unsaved_requests_drops_what_was_sent_since_the_last_save(world: World) -> None:
    seed(world)
    meter = SetMeter()
    engine = Engine(world.store, world.gateway, world.clock, request_meter=meter)
    op = campaign_target(engine)
    meter.pending = 9  # sent after that save: another operation's mark release, in a warm container
    engine.forget_unsaved_requests()
    meter.pending = 1
    engine.save(world.store.load(op.id), [])
    assert tallied(world, op.id) == 1


def test_preview_start_and_advance_do_not_count_what_was_sent_before_them(world: World) -> None:
    """Requests sent before an engine call (here the test's own, on the engine's counted clients) belong to
    no operation: each call's save counts only what that call sent."""
    seed(world)
    engine = metered(world)
    ours = engine.rds(REGION)

    def sent_by(call: Callable[[], object]) -> int:
        ours.describe_cluster(CLUSTER)  # before the call: not the operation's
        before = len(world.sim.calls)
        call()
        return len(world.sim.calls) - before

    made: list[Operation] = []
    counted = sent_by(lambda: made.append(campaign_target(engine)))
    [op] = made
    assert tallied(world, op.id) == counted > 0
    counted += sent_by(lambda: engine.start(op.id))
    assert tallied(world, op.id) == counted
    for _ in range(3):
        world.clock.sleep(10)
        counted += sent_by(lambda: engine.advance(op.id))
        assert tallied(world, op.id) == counted
    assert not world.store.load(op.id).state.is_final, "no release yet: every count is one call's"


def test_a_warm_lambda_serving_two_operations_in_turn_counts_each_only_its_own_calls(world: World) -> None:
    clusters = ["pay-1", "pay-2"]
    for cluster in clusters:
        seed(world, cluster)
    warm = metered(world)  # one engine for every invocation: a warm container
    handler = make_handler(lambda _settings: warm)
    ops = [campaign_target(warm, c) for c in clusters]
    created = {op.id: tallied(world, op.id) for op in ops}
    calls: dict[str, list[SimCall]] = {op.id: [] for op in ops}
    last: dict[str, list[SimCall]] = {}
    going = [op.id for op in ops]
    action = "start"
    for _ in range(500):
        if not going:
            break
        for op_id in list(going):  # alternately, in the same engine
            before = len(world.sim.calls)
            result = handler({"action": action, "operation_id": op_id}, None)
            last[op_id] = world.sim.calls[before:]
            calls[op_id].extend(last[op_id])
            if result["completed"] or result["failed"] or result["needs_intervention"]:
                assert result["completed"], result
                going.remove(op_id)
        action = "poll"
        world.clock.sleep(45)  # each look sends a few calls: enough of them, in fewer invocations
    assert not going, "both operations ended"

    for op in ops:
        assert tuple(names(last[op.id])[-3:]) == MARK_RELEASE
        assert tallied(world, op.id) == created[op.id] + len(calls[op.id]), op.target_id
    assert sum(len(c) for c in calls.values()) > 40
