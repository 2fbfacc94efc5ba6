"""What `status --watch` reads, and when: one `follow` per look, timed by the engine's record of its next look.

The engine records on each save that tells its driver to wait when that driver looks again
(`StepProgress.next_look_at`); the watcher sleeps until just after then, and backs off when nothing moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, cast

import pytest

from rds_maint.cli.watch import DUE_MARGIN_SECONDS, LONGEST_SLEEP_SECONDS
from rds_maint.engine import Engine
from rds_maint.model import Event, Operation, Outcome
from rds_maint.store import DynamoDBStore, S3Store, StateStore, open_store
from rds_maint.store.base import Followed
from tests.helpers.steered_clock import SleepHook, cli_with
from tests.helpers.world import World

PARAMS = {"target_instance_type": "db.r6g.xlarge"}
INTERVAL = 5  # status --watch's default
SLACK = timedelta(milliseconds=1)  # the watcher sleeps fractions of a second to land on a look


def looks_due(op: Operation) -> list[datetime]:
    return [s.progress.next_look_at for s in op.steps if s.progress.next_look_at is not None]


# -- the engine's record ------------------------------------------------------------------------------------


def test_the_engine_records_the_next_look_on_each_wait_and_clears_it_when_the_step_ends(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = world.create(PARAMS)
    world.engine.start(op.id)
    waits = 0
    for _ in range(500):
        before = world.store.load(op.id)
        result = world.engine.advance(op.id)
        after = world.store.load(op.id)
        if result.outcome is Outcome.INTERVENTION:  # the plan's own pauses: none due while paused
            assert looks_due(after) == []
            world.engine.resume(op.id, "continue")
            continue
        if after.version != before.version:  # a save: it says when its driver looks again, or that none is due
            if result.outcome is Outcome.WAIT:
                waits += 1
                step = after.steps[after.current_step_index]
                assert step.progress.next_look_at == after.updated_at + timedelta(seconds=result.wait_seconds)
                assert looks_due(after) == [step.progress.next_look_at], "only the current step has one"
            else:
                assert looks_due(after) == [], result.outcome
        if result.outcome is Outcome.COMPLETED:
            break
        world.clock.sleep(result.wait_seconds)
    else:
        raise AssertionError("the operation never completed")
    assert waits > 10
    done = world.store.load(op.id)
    assert done.state.value == "completed" and looks_due(done) == []


def test_a_record_without_next_look_at_loads(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create(PARAMS)
    data = op.model_dump(mode="json")
    for step in data["steps"]:
        step["progress"].pop("next_look_at")
    assert all(s.progress.next_look_at is None for s in Operation.model_validate(data).steps)


# -- the watcher ------------------------------------------------------------------------------------------


@dataclass
class Look:
    at: datetime
    version: int
    next_look_at: datetime | None
    requests: int  # the store's AWS requests during this follow (S3, DynamoDB)


@dataclass
class WatchedStore:
    """The watcher's store: records each `follow` and fails the test on any other read of the operation."""

    store: StateStore
    clock: Any
    looks: list[Look] = field(default_factory=list)
    _requests: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.store, S3Store | DynamoDBStore):
            self.store.client.meta.events.register("before-call", self._count)

    def _count(self, **_: Any) -> None:
        self._requests += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def follow(self, operation_id: str, cursor: str | None = None) -> Followed:
        before = self._requests
        followed = self.store.follow(operation_id, cursor)
        step = followed.operation.current_step
        due = step.progress.next_look_at if step is not None else None
        self.looks.append(Look(self.clock.now(), followed.operation.version, due, self._requests - before))
        return followed

    def outside_follow(self) -> int:
        return self._requests - sum(look.requests for look in self.looks)

    def load(self, operation_id: str) -> Operation:
        raise AssertionError("the watcher loaded the operation instead of following it")

    def events(self, operation_id: str) -> list[Event]:
        raise AssertionError("the watcher read the whole event log")


class Driver:
    """Another process's `run` on the same clock: each time the watcher wakes, the engine calls that were due."""

    def __init__(self, world: World, op_id: str) -> None:
        self.world, self.op_id = world, op_id
        self.engine: Engine = world.new_engine()
        self.due = world.clock.now()
        self.saves = 0

    def catch_up(self) -> None:
        while self.due <= self.world.clock.now():
            before = self.world.store.load(self.op_id)
            if before.state.is_final or before.state.value == "paused":
                return
            result = self.engine.advance(self.op_id)
            self.saves += self.world.store.load(self.op_id).version - before.version
            self.due = self.world.clock.now() + timedelta(seconds=result.wait_seconds)


def watch(world: World, store: WatchedStore, between: Any, *args: str) -> Any:
    hook = SleepHook(world.clock, between)
    watched = cli_with(world, hook, "status", *args, "--watch", store=cast(StateStore, store))
    assert watched.exit_code in (0, 3), watched.output
    return watched


def test_the_watcher_looks_just_after_each_look_the_driver_has_due(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create(PARAMS)
    world.engine.start(op.id)
    driver = Driver(world, op.id)
    store = WatchedStore(open_store(world.store_url), world.clock)
    watched = watch(world, store, driver.catch_up, op.id)
    assert "failover_to_temp" in watched.output, "it showed the run as it went"
    final = world.store.load(op.id)
    assert final.state.value in ("completed", "paused")

    first, *looks = store.looks
    assert looks, "it looked"
    pairs = list(pairwise(store.looks))
    for seen, then in pairs:
        slept = (then.at - seen.at).total_seconds()
        assert INTERVAL <= slept <= LONGEST_SLEEP_SECONDS, slept
        due = seen.next_look_at
        if due is not None and due > seen.at and (due - seen.at).total_seconds() + DUE_MARGIN_SECONDS >= INTERVAL:
            just_after = due + timedelta(seconds=DUE_MARGIN_SECONDS)
            assert then.at <= just_after + SLACK, "never later than just after the driver's look"
            if then.at >= due:
                assert abs(then.at - just_after) <= SLACK, "just after the driver's look, not before it"
        if then.version == seen.version:  # found nothing: only a slice of a wait longer than a minute
            assert due is not None and then.at < due, (seen, then)
    elapsed = (looks[-1].at - first.at).total_seconds()
    assert len(looks) < elapsed / INTERVAL / 3, "far fewer than one look per --interval"


def test_a_watch_on_an_operation_nobody_drives_backs_off_to_one_look_a_minute(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = world.create(PARAMS)
    world.engine.start(op.id)
    for _ in range(3):  # a run that waited, then was stopped with Ctrl-C: its next look never comes
        world.clock.sleep(world.engine.advance(op.id).wait_seconds)
    assert looks_due(world.store.load(op.id)), "the record says when the next look was due"
    world.clock.advance(600)
    store = WatchedStore(open_store(world.store_url), world.clock)

    def ctrl_c_at_the_eighth_look() -> None:
        if len(store.looks) == 8:
            raise KeyboardInterrupt

    stopped = watch(world, store, ctrl_c_at_the_eighth_look, op.id)
    assert "Stopped watching" in stopped.output
    at = [look.at for look in store.looks]
    sleeps = [(b - a).total_seconds() for a, b in pairwise(at)]
    assert sleeps == [5, 10, 20, 40, 60, 60, 60], sleeps


def watched_for_25_looks(world: World) -> WatchedStore:
    """A watch of a started operation, its driver catching up before each look, stopped with Ctrl-C at the 25th."""
    op = world.create(PARAMS)
    world.engine.start(op.id)
    driver = Driver(world, op.id)
    store = WatchedStore(open_store(world.store_url), world.clock)

    def drive_then_ctrl_c() -> None:
        if len(store.looks) >= 25:
            raise KeyboardInterrupt
        driver.catch_up()

    watch(world, store, drive_then_ctrl_c, op.id)
    return store


@pytest.mark.parametrize("store_kind", ["s3", "dynamodb"])
def test_each_look_is_one_follow_and_nothing_else(world: World, cluster_1w2r: list[str]) -> None:
    store = watched_for_25_looks(world)
    assert len(store.looks) == 25, "one follow per look (and the first, for the cursor)"
    assert store.outside_follow() == 0, "no request but the follows"


@pytest.mark.parametrize(("store_kind", "request_name"), [("s3", "GetObject"), ("dynamodb", "Query")])
def test_a_look_after_one_save_is_one_request(world: World, cluster_1w2r: list[str], request_name: str) -> None:
    store = watched_for_25_looks(world)
    one_save = [b for a, b in pairwise(store.looks) if b.version - a.version <= 1]
    assert len(one_save) > 10
    assert [look.requests for look in one_save] == [1] * len(one_save), f"one {request_name} per look"
