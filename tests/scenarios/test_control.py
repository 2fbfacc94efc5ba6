"""Steering an operation under way as an operator does: new flags on `run OP`, `pause` from elsewhere, `--watch`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from click.testing import Result

from rds_maint.actor import answering_actor, sts_client
from rds_maint.engine import Engine
from rds_maint.engine.coordination import grant_lease
from rds_maint.model import Event, Operation, OperationState, StepState
from rds_maint.progress import drive
from rds_maint.store import StateStore, open_store
from rds_maint.store.base import Followed
from tests.helpers.steered_clock import SleepHook, cli_with
from tests.helpers.world import CLASS_CHANGE_FLAGS, CLUSTER, REGION, World

TARGET = "db.r6g.xlarge"
CREATE = ["create", *CLASS_CHANGE_FLAGS]


def actor() -> str:
    """Who the CLI records as asking in these tests: the identity of the fake credentials (moto's STS)."""
    return answering_actor(lambda: sts_client(None, "us-east-1"))


def cli(world: World, *args: str) -> Result:
    return world.cli([*args, "--store", world.store_url])


def created(world: World) -> Operation:
    made = cli(world, *CREATE)
    assert made.exit_code == 0, made.output
    [op] = world.store.list_operations()
    return op


def advance_until(world: World, engine: Engine, op_id: str, done: Callable[[Operation], bool]) -> Operation:
    """Drive as a `run` would, one engine call at a time, and stop (as if between two calls) once `done`."""
    for _ in range(200):
        op = world.store.load(op_id)
        if done(op):
            return op
        result = engine.advance(op_id)
        world.clock.sleep(result.wait_seconds)
    raise AssertionError("the operation never got there")


def temp_instance(world: World, op: Operation) -> str:
    return str(world.store.load(op.id).context["temp_instance_id"])


# -- run OPERATION_ID with new flags ------------------------------------------------------------------


def test_run_with_an_id_applies_a_new_wait_timeout_and_pause_saved_with_who_asked(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = created(world)
    ran = cli(world, "run", op.id, "--wait-timeout", "3600", "--pause-before", "failback")
    assert ran.exit_code == 3, ran.output
    assert f"Wait timeout changed from 45 min to 60 min by {actor()}" in ran.output
    assert f"Will pause before step 7 'failback' as {actor()} asked" in ran.output
    assert "PAUSED:" in ran.output

    stored = world.store.load(op.id)
    assert stored.wait_timeout == 3600 and "failback" in stored.pause_before_steps
    assert stored.state is OperationState.PAUSED and stored.current_step.name == "failback"  # type: ignore[union-attr]
    changes = [e for e in world.store.events(op.id) if e.type in ("wait_timeout_changed", "pause_before_added")]
    assert [(e.type, e.actor) for e in changes] == [
        ("wait_timeout_changed", actor()),
        ("pause_before_added", actor()),
    ]
    view = world.sim.cluster_view(CLUSTER)
    assert view.writer == temp_instance(world, op), "paused before the failback: the temp instance still writes"


def test_run_with_an_id_refuses_flags_that_cannot_apply_and_changes_nothing(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = created(world)
    world.engine.start(op.id)
    advance_until(world, world.engine, op.id, lambda o: o.current_step_index == 2)  # steps 1 and 2 done
    before = world.store.load(op.id)
    calls = len(world.sim.calls)

    cases = {
        ("--wait-timeout", "5"): "wait timeout must be a whole number of seconds between 60 and 86400 (got 5)",
        (
            "--pause-before",
            "create_temp_instance",
        ): "cannot pause before step 2 'create_temp_instance': it is completed",
        ("--pause-before", "no_such_step"): "no step 'no_such_step' in operation",
    }
    for flags, message in cases.items():
        refused = cli(world, "run", op.id, *flags)
        assert refused.exit_code == 2, refused.output
        assert message in refused.output
    after = world.store.load(op.id)
    assert after.version == before.version and after.wait_timeout == before.wait_timeout
    assert len(world.store.events(op.id)) == len(world.store.events(before.id))
    assert len(world.sim.calls) == calls, "a refused run never drives the operation"

    both = cli(world, "run", op.id, "--cluster", CLUSTER)
    assert both.exit_code == 2 and "not both" in both.output


def test_run_with_an_id_refuses_new_flags_on_a_finished_operation(world: World, cluster_1w2r: list[str]) -> None:
    op = created(world)
    assert cli(world, "run", op.id).exit_code == 0
    refused = cli(world, "run", op.id, "--wait-timeout", "3600")
    assert refused.exit_code == 2
    assert f"operation '{op.id}' is completed; its settings can no longer change" in refused.output
    assert world.store.load(op.id).wait_timeout == 2700


# -- pause from another process ----------------------------------------------------------------------------


def test_pause_from_another_process_stops_at_the_next_step_boundary_then_resume_finishes(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = created(world)
    first = world.new_engine()  # the process that drives it
    first.start(op.id)
    waiting = advance_until(
        world, first, op.id, lambda o: o.current_step is not None and o.current_step.state is StepState.WAITING
    )
    assert waiting.current_step_index == 1  # creating the temp instance, mid-step

    asked = cli(world, "pause", op.id, "--comment", "app team sees errors")  # a second machine
    assert asked.exit_code == 0, asked.output
    assert f"Pause asked for by {actor()} (app team sees errors): pauses before step 3 'failover_to_temp'" in (
        asked.output
    )
    assert world.store.load(op.id).state is OperationState.RUNNING, "the step under way is never cut short"

    result = drive(first, op.id, world.clock.sleep)
    assert result.outcome.value == "intervention"
    paused = world.store.load(op.id)
    assert paused.pause_reason == f"Paused before step 3 'failover_to_temp', as {actor()} asked: app team sees errors"
    assert [s.state for s in paused.steps[:3]] == [StepState.COMPLETED, StepState.COMPLETED, StepState.PENDING]
    assert paused.pause_requested is None
    temp = temp_instance(world, op)
    view = world.sim.cluster_view(CLUSTER)
    assert view.writer == f"{CLUSTER}-instance-1" and view.members[temp].status == "available"
    assert "FailoverDBCluster" not in world.mutating_calls()

    again = cli(world, "pause", op.id)
    assert again.exit_code == 0 and f"Operation {op.id} is already paused" in again.output
    shown = cli(world, "status", op.id)
    assert f"PAUSED: Paused before step 3 'failover_to_temp', as {actor()} asked" in shown.output

    assert cli(world, "resume", op.id, "--action", "continue").exit_code == 0
    finished = cli(world, "run", op.id)
    assert finished.exit_code == 0, finished.output
    view = world.sim.cluster_view(CLUSTER)
    assert view.writer == f"{CLUSTER}-instance-1" and temp not in view.members
    assert {m.instance_class for m in view.members.values()} == {TARGET}

    late = cli(world, "pause", op.id)
    assert late.exit_code == 2 and f"operation '{op.id}' is completed; there is nothing to pause" in late.output


def test_a_pause_asked_for_reaches_an_operation_the_lambda_drives(world: World, cluster_1w2r: list[str]) -> None:
    op = created(world)
    assert world.handler({"action": "start", "operation_id": op.id})["outcome"] == "continue"
    assert world.handler({"action": "step", "operation_id": op.id})["step_name"] == "check_cluster"
    asked = cli(world, "pause", op.id, "--output", "json")
    assert asked.exit_code == 0
    assert json.loads(asked.output)["pause_requested"] is True

    answer = world.handler({"action": "step", "operation_id": op.id})
    assert answer["needs_intervention"] is True and answer["step_name"] == "create_temp_instance"
    assert answer["pause_reason"] == f"Paused before step 2 'create_temp_instance', as {actor()} asked"
    assert world.mutating_calls() == ["AddTagsToResource"], (
        "paused before the first step that changes AWS (the mark only)"
    )


def test_a_pause_request_waits_for_the_step_another_process_is_running(world: World, cluster_1w2r: list[str]) -> None:
    """The step lease says another process is inside a step's action: the request is saved after its save."""
    op = created(world)
    world.engine.start(op.id)
    running = world.store.load(op.id)
    step = running.steps[0]
    step.state = StepState.IN_PROGRESS
    grant_lease(step, world.clock.now(), 900)
    world.store.save(running, [])

    def holder_finishes() -> None:  # the holder's save ends its lease, as the engine's save after `run` does
        held = world.store.load(op.id)
        held.steps[0].progress.lease_attempt = held.steps[0].progress.lease_until = None
        world.store.save(held, [])

    clock = SleepHook(world.clock, holder_finishes)
    asked = cli_with(world, clock, "pause", op.id)
    assert asked.exit_code == 0, asked.output
    assert clock.sleeps >= 1, "it waited for the lease"
    [request] = [e for e in world.store.events(op.id) if e.type == "pause_requested"]
    assert request.message.endswith("pauses before step 2 'create_temp_instance'")


# -- status --watch -----------------------------------------------------------------------------------------


def driven_elsewhere(world: World, op_id: str) -> Callable[[], None]:
    """Another process's `run`: one engine call per look of the watcher."""
    other = world.new_engine()

    def one_call() -> None:
        if not world.store.load(op_id).state.is_final:
            other.advance(op_id)

    return one_call


def test_status_watch_follows_until_the_pause_then_until_completion(world: World, cluster_1w2r: list[str]) -> None:
    op = created(world)
    cli(world, "run", op.id, "--pause-before", "check_cluster")  # paused before its first step
    cli(world, "resume", op.id, "--action", "continue")
    world.engine.update_settings(op.id, pause_before=["failback"])

    watched = cli_with(world, SleepHook(world.clock, driven_elsewhere(world, op.id)), "status", op.id, "--watch")
    assert watched.exit_code == 3, watched.output
    out = watched.output
    assert out.startswith(f"Operation {op.id}: instance_type_change on {CLUSTER} ({REGION}), running")
    assert "UTC  Step create_temp_instance: Temp instance" in out, "each new event, with its time and zone"
    assert f"UTC  {op.id}: running at step 3 'failover_to_temp'" in out, "the state line as it moves"
    assert "PAUSED:" in out, out
    assert world.store.load(op.id).current_step.name == "failback"  # type: ignore[union-attr]

    cli(world, "resume", op.id, "--action", "continue")
    hook = SleepHook(world.clock, driven_elsewhere(world, op.id))
    followed = cli_with(world, hook, "status", op.id, "--watch", "--interval", "30", "--output", "json")
    assert followed.exit_code == 0, followed.output
    lines = [json.loads(line) for line in followed.output.splitlines()]
    assert lines[0]["state"] == "running" and lines[0]["step_name"] == "failback"
    assert lines[-1]["outcome"] == "completed"
    assert any(line.get("event", {}).get("type") == "operation_completed" for line in lines)
    assert world.sim.cluster_view(CLUSTER).writer == f"{CLUSTER}-instance-1"

    ended = cli(world, "status", op.id, "--watch")  # nothing left to follow: shown once, at once
    assert ended.exit_code == 0 and ended.output.count(f"Operation {op.id}:") == 1


class CountingStore:
    """The watcher's store, counting how often it reads the whole event log and how often it follows."""

    def __init__(self, store: StateStore) -> None:
        self.store, self.event_reads, self.follows = store, 0, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def events(self, operation_id: str) -> list[Event]:
        self.event_reads += 1
        return self.store.events(operation_id)

    def follow(self, operation_id: str, cursor: str | None = None) -> Followed:
        self.follows += 1
        return self.store.follow(operation_id, cursor)


def test_status_watch_reads_the_events_only_when_the_operation_changed_and_ctrl_c_stops_it(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = created(world)
    world.engine.start(op.id)
    before = world.store.load(op.id)

    def ctrl_c_at_the_tenth_look() -> None:
        if hook.sleeps == 10:
            raise KeyboardInterrupt

    hook = SleepHook(world.clock, ctrl_c_at_the_tenth_look)
    counting = CountingStore(open_store(world.store_url))
    stopped = cli_with(world, hook, "status", op.id, "--watch", store=cast(StateStore, counting))
    assert stopped.exit_code == 0, stopped.output
    assert f"Stopped watching {op.id}; the operation itself carries on" in stopped.output
    assert counting.event_reads == 0, "the whole event log is never read: each look follows from its cursor"
    assert 1 < counting.follows <= 11, "one read at the start, then at most one per look"
    assert world.store.load(op.id).version == before.version, "watching changes nothing"


def test_status_interval_without_watch_is_refused(world: World, cluster_1w2r: list[str]) -> None:
    op = created(world)
    refused = cli(world, "status", op.id, "--interval", "10")
    assert refused.exit_code == 2 and "--interval goes with --watch" in refused.output


def test_pausing_an_operation_nothing_drives_says_when_it_will_pause(world: World, cluster_1w2r: list[str]) -> None:
    op = created(world)
    world.engine.start(op.id)
    advance_until(world, world.engine, op.id, lambda o: o.current_step_index == 1)
    left = world.store.load(op.id).updated_at
    world.clock.advance(30 * 60)  # the run that drove it was stopped

    asked = cli(world, "pause", op.id)
    assert asked.exit_code == 0, asked.output
    assert f"Nothing has driven it since {left:%H:%M} UTC: it pauses there when it is carried on" in asked.output
    resumed = cli(world, "run", op.id)
    assert resumed.exit_code == 3, resumed.output
    assert world.store.load(op.id).pause_reason == f"Paused before step 2 'create_temp_instance', as {actor()} asked"
    assert world.mutating_calls() == ["AddTagsToResource"]  # the cluster's mark, at start; no step changed AWS


def test_a_record_written_before_pause_requests_existed_loads_and_can_be_paused(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = created(world)
    [record] = list(Path(world.store_url.removeprefix("file://")).rglob("operation.json"))
    data = json.loads(record.read_text())
    assert "pause_requested" in data
    del data["pause_requested"]
    record.write_text(json.dumps(data))

    assert cli(world, "status", op.id).exit_code == 0
    asked = cli(world, "pause", op.id)
    assert asked.exit_code == 0, asked.output
    assert world.store.load(op.id).pause_requested is not None


# -- taking a pause request back --------------------------------------------------------------------------


def asked_mid_step(world: World) -> Operation:
    """An operation in its second step (creating the temp instance) with a pause asked for by a person."""
    op = created(world)
    world.engine.start(op.id)
    advance_until(
        world, world.engine, op.id, lambda o: o.current_step is not None and o.current_step.state is StepState.WAITING
    )
    world.engine.request_pause(op.id, actor="dba@example", comment="app team sees errors")
    return world.store.load(op.id)


def test_a_pause_request_taken_back_lets_the_operation_go_past_its_boundary(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = asked_mid_step(world)

    answer = world.engine.withdraw_pause_request(op.id, actor="lead@example", comment="errors explained")
    assert answer.withdrawn and not answer.still_asked
    assert answer.message == "Pause asked for by dba@example taken back by lead@example: errors explained"
    assert world.store.load(op.id).pause_requested is None
    [event] = [e for e in world.store.events(op.id) if e.type == "pause_request_withdrawn"]
    assert event.actor == "lead@example" and event.message == answer.message

    result = drive(world.engine, op.id, world.clock.sleep)
    assert result.operation_state == "completed"
    assert "FailoverDBCluster" in world.mutating_calls(), "it went past the boundary it would have paused at"


def test_taking_back_a_pause_nobody_asked_for_changes_nothing(world: World, cluster_1w2r: list[str]) -> None:
    op = created(world)
    world.engine.start(op.id)
    before = world.store.load(op.id)

    answer = world.engine.withdraw_pause_request(op.id, actor="lead@example")
    assert not answer.withdrawn and not answer.still_asked
    assert answer.message == f"Operation {op.id} has no pause request waiting; nothing was changed"
    assert world.store.load(op.id).version == before.version
    assert not [e for e in world.store.events(op.id) if e.type == "pause_request_withdrawn"]


def test_only_the_request_asked_with_the_comment_named_is_taken_back(world: World, cluster_1w2r: list[str]) -> None:
    op = asked_mid_step(world)

    answer = world.engine.withdraw_pause_request(op.id, actor="lead@example", asked_with="campaign c-1 paused")
    assert not answer.withdrawn
    assert "asked for by dba@example is not the one to take back" in answer.message
    asked = world.store.load(op.id).pause_requested
    assert asked is not None and asked.comment == "app team sees errors"


def test_taking_back_a_pause_that_loses_a_race_tries_again_on_the_winners_record(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = asked_mid_step(world)
    store = world.store
    real_save = store.save
    raced: list[int] = []

    def save_after_a_person(operation: Operation, events: list[Event]) -> Operation:
        if not raced:  # a person's new wait timeout is saved between the withdrawal's load and its save
            raced.append(1)
            theirs = store.load(operation.id)
            theirs.wait_timeout = 3600
            real_save(theirs, [])
        return real_save(operation, events)

    engine = Engine(store, world.gateway, world.clock)
    store.save = save_after_a_person  # type: ignore[method-assign]
    try:
        answer = engine.withdraw_pause_request(op.id, actor="lead@example")
    finally:
        del store.save
    assert raced and answer.withdrawn
    stored = world.store.load(op.id)
    assert stored.pause_requested is None and stored.wait_timeout == 3600  # the winner's save is kept
    assert [e.type for e in world.store.events(op.id)].count("pause_request_withdrawn") == 1


def test_a_pause_request_is_not_taken_back_while_another_process_runs_the_step(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = asked_mid_step(world)
    running = world.store.load(op.id)
    step = running.steps[running.current_step_index]
    step.state = StepState.IN_PROGRESS
    grant_lease(step, world.clock.now(), 900)
    held = world.store.save(running, [])

    answer = world.engine.withdraw_pause_request(op.id, actor="lead@example")
    assert not answer.withdrawn and answer.still_asked
    assert "is under way: it pauses when the step ends, as dba@example asked" in answer.message
    stored = world.store.load(op.id)
    assert stored.version == held.version and stored.pause_requested is not None
