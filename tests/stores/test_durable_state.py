"""Durable state end to end: concurrent invocations, the step lease, the cluster lock, `init`/`unlock`.

What is asserted is what a user would notice: the cluster at the end, the stored operation
and its events, how many times AWS was asked to change something, exit codes and results.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest

from rds_maint.actions import ACTIONS
from rds_maint.engine import LEASE_SECONDS, Engine
from rds_maint.errors import BadInput, ClusterLocked
from rds_maint.model import Event, Operation, OperationState, Outcome, StepResult
from rds_maint.names import temp_instance_id
from rds_maint.rds import RdsGateway
from rds_maint.store import StateStore, open_store
from rds_sim import SimulatedCrash
from tests.helpers.world import CLUSTER, ON_EVERY_STORE, REGION, World

TARGET = "db.r6g.xlarge"
WRITER = f"{CLUSTER}-instance-1"
READER_2 = f"{CLUSTER}-instance-2"
FINAL = (Outcome.COMPLETED, Outcome.FAILED, Outcome.INTERVENTION)
EXPECTED_CHANGES = {"CreateDBInstance": 1, "DeleteDBInstance": 1, "FailoverDBCluster": 2, "ModifyDBInstance": 3}


def changes_applied(world: World) -> dict[str, int]:
    return {name: len(world.sim.applied_calls(name)) for name in EXPECTED_CHANGES}


def cli(world: World, *args: str) -> Any:
    return world.cli([*args, "--store", world.store_url])


def event_types(world: World, op_id: str) -> list[str]:
    return [e.type for e in world.store.events(op_id)]


# -- concurrent invocations -------------------------------------------------------------------------


class Turns:
    """Virtual time for two looping invocations: a wait moves the shared clock only once the
    other invocation has finished a call of its own (or waits too, or is done).

    Real time only moves while someone waits, and no invocation can spin the clock past a lease
    the other holds while it is busy inside `run`. (Free-running threads on one virtual clock
    would let one thread's cheap waits age the other's lease by hours within a millisecond.)
    """

    def __init__(self, clock: Any) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._calls = [0, 0]
        self._idle = [False, False]
        self._done = [False, False]

    def called(self, me: int) -> None:
        with self._cond:
            self._calls[me] += 1
            self._cond.notify_all()

    def done(self, me: int) -> None:
        with self._cond:
            self._done[me] = True
            self._cond.notify_all()

    def wait(self, me: int, seconds: int) -> None:
        other = 1 - me
        with self._cond:
            seen = self._calls[other]
            self._idle[me] = True
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._done[other] or self._idle[other] or self._calls[other] > seen, timeout=30)
            self._idle[me] = False
        self._clock.sleep(seconds)


class FirstLoadTogether:
    """A store whose first load waits until the rival invocation has loaded too."""

    def __init__(self, store: StateStore, barrier: threading.Barrier) -> None:
        self._store, self._barrier, self._armed = store, barrier, True
        self.url = store.url

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def load(self, operation_id: str) -> Operation:
        loaded = self._store.load(operation_id)
        if self._armed:
            self._armed = False
            self._barrier.wait(timeout=30)
        return loaded


@ON_EVERY_STORE
def test_two_threads_advancing_one_operation_complete_it_with_each_change_made_once(
    world: World, cluster_1w2r: list[str], serialised_aws: None
) -> None:
    op = world.create({"target_instance_type": TARGET})
    world.engine.start(op.id)
    results: dict[int, list[StepResult]] = {0: [], 1: []}
    errors: list[BaseException] = []
    turns = Turns(world.clock)

    both_loaded = threading.Barrier(2)  # the first calls read the same version: one of them must lose

    def invoke_in_a_loop(n: int) -> None:
        store = FirstLoadTogether(open_store(world.store_url), both_loaded)
        engine = Engine(store, lambda region: world.gateway(), world.clock)  # a Lambda of its own
        try:
            for _ in range(5000):
                result = engine.advance(op.id)
                turns.called(n)
                results[n].append(result)
                if result.outcome in FINAL:
                    return
                if result.outcome is Outcome.WAIT:
                    turns.wait(n, min(result.wait_seconds, 60))
        except BaseException as exc:  # the assertion below shows it
            errors.append(exc)
        finally:
            turns.done(n)

    threads = [threading.Thread(target=invoke_in_a_loop, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert [results[n][-1].outcome for n in (0, 1)] == [Outcome.COMPLETED, Outcome.COMPLETED]
    assert world.store.load(op.id).state is OperationState.COMPLETED
    assert changes_applied(world) == EXPECTED_CHANGES  # no change asked of AWS twice
    assert [c.params["DBInstanceIdentifier"] for c in world.sim.calls if c.operation == "CreateDBInstance"] == [
        temp_instance_id(CLUSTER, op.id)
    ]
    view = world.sim.cluster_view(CLUSTER)
    assert view.writer == WRITER and not world.sim.instance_exists(temp_instance_id(CLUSTER, op.id))
    assert {m.instance_class for m in view.members.values()} == {TARGET}
    conflicts = [r for rs in results.values() for r in rs if r.error and r.error.startswith("conflict:")]
    assert conflicts, "the two invocations never raced, so this run proved nothing"
    assert all(r.error and "; re-read: " in r.error for r in conflicts)
    assert world.store.lock_holder(CLUSTER, REGION) is None
    assert "lease_expired" not in event_types(world, op.id)  # no lease was ever outrun


class RivalFirst:
    """A store whose first save lets a rival invocation do its whole unit of work first."""

    def __init__(self, store: StateStore, rival: Engine, op_id: str) -> None:
        self._store, self._rival, self._op_id, self._armed = store, rival, op_id, True
        self.url = store.url

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def save(self, operation: Operation, events: list[Event]) -> Operation:
        if self._armed:
            self._armed = False
            self._rival.advance(self._op_id)
        return self._store.save(operation, events)


@ON_EVERY_STORE
def test_the_loser_of_the_lease_write_reports_conflict_and_calls_nothing(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": TARGET})
    world.engine.start(op.id)
    world.engine.advance(op.id)  # check_cluster; create_temp_instance is next
    racing = RivalFirst(open_store(world.store_url), world.new_engine(), op.id)
    slow = Engine(racing, lambda region: world.gateway(), world.clock)
    result = slow.advance(op.id)
    assert result.error is not None and result.error.startswith("conflict:")
    assert result.error.endswith("; re-read: running")
    assert sum(slow.rds(REGION).calls.values()) == 0  # the loser did not even look at AWS
    assert [c.operation for c in world.sim.calls if c.operation == "CreateDBInstance"] == ["CreateDBInstance"]
    assert world.run(op.id).outcome is Outcome.COMPLETED
    assert changes_applied(world) == EXPECTED_CHANGES


class RivalDuringRun(RdsGateway):
    """An RDS gateway whose first call lets a rival invocation advance the same operation."""

    def __init__(self, world: World, rival: Engine, op_id: str, answers: list[StepResult]) -> None:
        super().__init__(world.rds_client(), sleep=world.clock.sleep)
        self._rival: Engine | None = rival
        self._op_id, self._answers = op_id, answers

    def call(self, operation: str, **kwargs: Any) -> Any:
        if self._rival is not None:
            rival, self._rival = self._rival, None
            self._answers.append(rival.advance(self._op_id))
        return super().call(operation, **kwargs)


@ON_EVERY_STORE
def test_a_caller_that_finds_the_step_leased_waits_and_calls_nothing(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": TARGET})
    world.engine.start(op.id)
    world.engine.advance(op.id)  # check_cluster; create_temp_instance is next
    rival = world.new_engine()
    answers: list[StepResult] = []
    holder = Engine(
        open_store(world.store_url), lambda region: RivalDuringRun(world, rival, op.id, answers), world.clock
    )
    assert holder.advance(op.id).error is None  # it ran create_temp_instance under its lease
    assert len(answers) == 1  # the rival came while the holder was inside `run`
    assert answers[0].outcome is Outcome.WAIT and answers[0].error is None
    assert 0 < answers[0].wait_seconds <= 30
    assert sum(rival.rds(REGION).calls.values()) == 0
    assert [c.operation for c in world.sim.calls if c.operation == "CreateDBInstance"] == ["CreateDBInstance"]


def test_a_crashed_holders_lease_is_waited_for_then_taken_over(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": TARGET})
    world.engine.start(op.id)
    world.engine.advance(op.id)  # check_cluster
    world.sim.faults.crash_after("CreateDBInstance", times=1)
    # the process dies outright: nothing of it runs after the call, not even freeing its lease
    world.engine._drop_lease = lambda *args: None  # type: ignore[method-assign]
    with pytest.raises(SimulatedCrash):
        world.engine.advance(op.id)  # leased, created the instance, died before saving
    fresh = world.new_engine()
    leased = fresh.advance(op.id)
    assert leased.outcome is Outcome.WAIT and leased.error is None and leased.wait_seconds == 30
    assert leased.step_name == "create_temp_instance" and leased.step_state == "in_progress"
    world.clock.advance(LEASE_SECONDS - 60)
    assert fresh.advance(op.id).outcome is Outcome.WAIT  # still the crashed holder's
    assert len([c for c in world.sim.calls if c.operation == "CreateDBInstance"]) == 1
    world.clock.advance(61)
    taken = fresh.advance(op.id)  # expired: taken over; the action finds its own instance
    assert taken.error is None and taken.outcome is Outcome.WAIT
    assert "lease_expired" in event_types(world, op.id)
    assert world.run(op.id, engine=fresh).outcome is Outcome.COMPLETED
    assert len([c for c in world.sim.calls if c.operation == "CreateDBInstance"]) == 1
    assert changes_applied(world) == EXPECTED_CHANGES


def test_ctrl_c_inside_run_frees_the_lease_at_once(
    world: World, cluster_1w2r: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    op = world.create({"target_instance_type": TARGET})
    world.engine.start(op.id)
    world.engine.advance(op.id)  # check_cluster; create_temp_instance is next
    action = ACTIONS[world.store.load(op.id).steps[1].action]
    real_run = action.run

    def interrupted(ctx: Any) -> Any:
        real_run(ctx)  # the instance is created, then the person presses Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(action, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        world.engine.advance(op.id)
    monkeypatch.setattr(action, "run", real_run)
    step = world.store.load(op.id).steps[1]
    assert step.state.value == "in_progress" and step.progress.lease_attempt is None
    assert "lease_attempt" not in step.result  # the engine's bookkeeping is never among the action's records
    again = world.engine.advance(op.id)  # no wait for a lease: the step runs again and finds its instance
    assert again.error is None and again.step_state == "waiting"
    assert len([c for c in world.sim.calls if c.operation == "CreateDBInstance"]) == 1


# -- the cluster lock -------------------------------------------------------------------------------


@ON_EVERY_STORE
def test_a_second_operation_on_a_busy_cluster_cannot_start(
    world: World, cluster_1w2r: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = world.create({"target_instance_type": TARGET})
    second = world.create({"target_instance_type": "db.r6g.2xlarge"})
    assert world.engine.start(first.id).error is None
    with pytest.raises(ClusterLocked, match=f"operation '{first.id}'") as caught:
        world.engine.start(second.id)
    assert caught.value.holder == first.id
    assert f"rds-maint unlock {CLUSTER} --region {REGION} --force" in str(caught.value)
    answer = world.handler({"action": "start", "operation_id": second.id})
    assert answer["error"] is not None and first.id in answer["error"] and answer["operation_state"] is None
    run = cli(world, "run", second.id)
    assert run.exit_code == 2 and first.id in run.output
    with pytest.raises(ClusterLocked):  # nor can a new one be created on it
        world.create({"target_instance_type": TARGET})
    untouched = world.store.load(second.id)
    assert untouched.state is OperationState.CREATED and untouched.version == 1
    assert world.sim.applied_calls("CreateDBInstance") == []
    assert world.store.lock_holder(CLUSTER, REGION) == first.id


def test_start_is_idempotent_when_the_lock_is_already_its_own(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": TARGET})
    world.store.acquire_lock(CLUSTER, REGION, op.id)  # a start that died after taking the lock
    assert world.handler({"action": "start", "operation_id": op.id})["error"] is None
    again = world.handler({"action": "start", "operation_id": op.id})  # a retried Lambda task
    assert again["error"] is None and again["operation_state"] == "running"
    assert event_types(world, op.id).count("operation_started") == 1


def _pause_mid_way(world: World) -> Operation:
    op = world.create({"target_instance_type": TARGET}, pause_before_steps=[f"modify_class:{READER_2}"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    assert world.store.lock_holder(CLUSTER, REGION) == op.id  # a paused operation keeps the cluster
    return op


@pytest.mark.parametrize("ending", ["completed", "abort", "rollback", "mark_complete", "abort_before_start"])
def test_the_lock_is_released_at_each_final_state(world: World, cluster_1w2r: list[str], ending: str) -> None:
    if ending == "completed":
        op = world.create({"target_instance_type": TARGET})
        assert world.run(op.id).outcome is Outcome.COMPLETED
        final = OperationState.COMPLETED
    elif ending == "abort_before_start":
        op = world.create({"target_instance_type": TARGET})
        world.store.acquire_lock(CLUSTER, REGION, op.id)  # a start that died after taking the lock
        world.engine.resume(op.id, "abort", "not today")
        final = OperationState.FAILED
    else:
        op = _pause_mid_way(world)
        world.engine.resume(op.id, ending)
        world.run(op.id)  # mark_complete too: the engine fails back and deletes the temp instance first
        final = {
            "abort": OperationState.FAILED,
            "rollback": OperationState.ROLLED_BACK,
            "mark_complete": OperationState.COMPLETED,
        }[ending]
    assert world.store.load(op.id).state is final
    assert world.store.lock_holder(CLUSTER, REGION) is None
    following = world.create({"target_instance_type": "db.r6g.2xlarge"})
    assert world.engine.start(following.id).error is None


def test_a_lock_left_by_a_finished_operation_is_taken_over(world: World, cluster_1w2r: list[str]) -> None:
    first = world.create({"target_instance_type": TARGET})
    assert world.run(first.id).outcome is Outcome.COMPLETED
    world.store.acquire_lock(CLUSTER, REGION, first.id)  # as if the release after the final save was lost
    second = world.create({"target_instance_type": "db.r6g.2xlarge"})
    assert world.engine.start(second.id).error is None
    assert world.store.lock_holder(CLUSTER, REGION) == second.id
    taken = [e for e in world.store.events(second.id) if e.type == "lock_taken_over"]
    assert len(taken) == 1 and taken[0].data["previous_holder"] == first.id


@ON_EVERY_STORE
def test_unlock_force_releases_the_lock_and_is_recorded_on_the_holder(world: World, cluster_1w2r: list[str]) -> None:
    holder = _pause_mid_way(world)
    refused = cli(world, "unlock", CLUSTER, "--region", REGION)
    assert refused.exit_code == 2
    assert holder.id in refused.output and "--force" in refused.output
    assert world.store.lock_holder(CLUSTER, REGION) == holder.id
    forced = cli(world, "unlock", CLUSTER, "--region", REGION, "--force", "--comment", "runbook 7")
    assert forced.exit_code == 0, forced.output
    assert world.store.lock_holder(CLUSTER, REGION) is None
    recorded = [e for e in world.store.events(holder.id) if e.type == "lock_released_by_operator"]
    assert len(recorded) == 1 and "runbook 7" in recorded[0].message
    assert world.store.load(holder.id).state is OperationState.PAUSED  # the holder is not stopped
    assert "rds-maint:active-operation" not in world.gateway().describe_cluster(CLUSTER).tags  # the mark too
    # free, but the holder's temp instance still stands in the cluster: a new plan is refused, naming it
    with pytest.raises(BadInput, match=f"temporary instance of operation '{holder.id}'"):
        world.create({"target_instance_type": "db.r6g.2xlarge"})
    again = cli(world, "unlock", CLUSTER, "--region", REGION, "--force")
    assert again.exit_code == 0 and "not locked" in again.output
    bad = cli(world, "unlock", "../etc", "--region", REGION, "--force")
    assert bad.exit_code == 2 and "invalid cluster identifier" in bad.output


# -- store selection, init ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["s3://rds-maint-fresh/state", "dynamodb://rds-maint-fresh"])
def test_commands_never_create_storage_and_init_does(world: World, url: str) -> None:
    missing = world.cli(["list", "--store", url])
    assert missing.exit_code == 2
    assert f"rds-maint init --store {url}" in missing.output
    assert boto3.client("s3").list_buckets()["Buckets"] == []
    assert boto3.client("dynamodb").list_tables()["TableNames"] == []
    made = world.cli(["init", "--store", url])
    assert made.exit_code == 0 and "created" in made.output
    listed = world.cli(["list", "--store", url])
    assert listed.exit_code == 0 and "No operations." in listed.output
    again = world.cli(["init", "--store", url])
    assert again.exit_code == 0 and "exists" in again.output


@ON_EVERY_STORE
def test_the_lambda_and_the_cli_use_the_store_the_environment_names(
    world: World, cluster_1w2r: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RDS_MAINT_STORE", world.store_url)
    created = world.handler(
        {
            "action": "create",
            "params": {"type": "instance_type_change", "cluster_id": CLUSTER, "region": REGION, "params": {}},
        }
    )
    assert created["error"] is not None and "target_instance_type" in created["error"]
    created = world.handler(
        {
            "action": "create",
            "params": {
                "type": "instance_type_change",
                "cluster_id": CLUSTER,
                "region": REGION,
                "params": {"target_instance_type": TARGET},
            },
        }
    )
    op_id = created["operation_id"]
    assert world.store.load(op_id).state is OperationState.CREATED
    listed = world.cli(["list", "--output", "json", "--cluster", CLUSTER, "--state", "created"])
    assert listed.exit_code == 0 and op_id in listed.output
    bad_state = world.cli(["list", "--state", "sleeping"])
    assert bad_state.exit_code == 2 and "not an operation state" in bad_state.output


def test_an_exception_escaping_run_frees_the_lease_so_the_next_call_goes_on(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = world.create({"target_instance_type": TARGET})
    world.engine.start(op.id)
    world.engine.advance(op.id)  # check_cluster
    world.sim.faults.crash_after("CreateDBInstance", times=1)
    with pytest.raises(SimulatedCrash):
        world.engine.advance(op.id)  # the instance is created; the call dies in-process
    after = world.new_engine().advance(op.id)  # no 15-minute wait: it adopts the instance at once
    assert after.error is None
    assert after.step_name == "create_temp_instance" and after.step_state == "waiting"
    assert len([c for c in world.sim.calls if c.operation == "CreateDBInstance"]) == 1
    assert "temp_instance_adopted" in event_types(world, op.id)
