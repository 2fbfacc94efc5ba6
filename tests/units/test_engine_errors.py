"""How the engine meets AWS trouble on the fake RDS: timed-out waits, transient and busy answers, a person needed."""

from __future__ import annotations

from pathlib import Path

from rds_maint.actions.polling import PollPolicy
from rds_maint.errors import BusyAwsError, TransientAwsError
from rds_maint.model import OperationState, Outcome, StepState
from rds_maint.names import temp_instance_id
from tests.helpers.fake_rds import CLUSTER, NEW_CLASS, OLD_CLASS, READER_2, READER_3, WRITER, FakeWorld


def _step(world: FakeWorld, op_id: str, name: str) -> int:
    return next(i for i, s in enumerate(world.op(op_id).steps) if s.name == name)


def test_a_wait_past_the_timeout_pauses_naming_the_condition_and_continue_waits_again(root: Path) -> None:
    world = FakeWorld.make(root, poll=PollPolicy(fixed=10))
    world.rds.create_seconds = 200
    world.rds.modify_seconds = world.rds.delete_seconds = 30
    op = world.create(wait_timeout=60)
    temp = temp_instance_id(CLUSTER, op.id)
    started = world.clock.now()

    first = world.run(op.id)
    assert first.outcome is Outcome.INTERVENTION and first.step_name == "create_temp_instance"
    assert first.pause_reason is not None
    assert first.pause_reason.startswith(
        f"Timed out after 1 min waiting for: {temp} available with class {NEW_CLASS} (now creating)"
    )
    assert "resume with continue to wait 1 min more" in first.pause_reason
    assert world.rds.instances[temp].status == "creating"
    first_pause = world.clock.now()
    assert 60 < (first_pause - started).total_seconds() <= 80

    world.engine.resume(op.id, "continue")
    again = world.drive(op.id)  # the timeout starts again from the answer: another full minute
    assert again.outcome is Outcome.INTERVENTION and again.step_name == "create_temp_instance"
    assert 60 < (world.clock.now() - first_pause).total_seconds() <= 80

    world.engine.resume(op.id, "continue")
    done = world.drive(op.id)
    assert done.outcome is Outcome.COMPLETED, done.pause_reason
    assert len(world.rds.changes_of("create_cluster_instance")) == 1  # waited for the same instance each time
    assert world.event_types(op.id).count("operation_paused") == 2
    assert world.rds.classes() == {WRITER: NEW_CLASS, READER_2: NEW_CLASS, READER_3: NEW_CLASS}
    assert world.rds.writer() == WRITER and not world.rds.exists(temp)


def test_transient_errors_are_counted_and_retried_and_the_operation_goes_on(world: FakeWorld) -> None:
    world.rds.fail_next(
        "create_cluster_instance", TransientAwsError("CreateDBInstance", "InternalFailure", "try later"), times=2
    )
    op = world.create()
    result = world.run(op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    max_retries = world.op(op.id).steps[1].max_retries
    busy = [e.message for e in world.events(op.id) if e.type == "step_busy"]
    assert busy == [
        f"Step create_temp_instance: AWS error InternalFailure, retry 1/{max_retries}",
        f"Step create_temp_instance: AWS error InternalFailure, retry 2/{max_retries}",
    ]
    assert world.rds.calls["create_cluster_instance"] == 3
    assert len(world.rds.changes_of("create_cluster_instance")) == 1
    assert world.op(op.id).steps[1].retry_count == 0
    assert "operation_paused" not in world.event_types(op.id)


def test_transient_errors_past_max_retries_pause_and_continue_tries_again(world: FakeWorld) -> None:
    op = world.create()
    index = _step(world, op.id, "failover_to_temp")
    max_retries = op.steps[index].max_retries
    error = TransientAwsError("FailoverDBCluster", "ServiceUnavailable", "down for now")
    world.rds.fail_next("failover", error, times=max_retries + 1)

    paused = world.run(op.id)

    assert paused.outcome is Outcome.INTERVENTION and paused.step_name == "failover_to_temp"
    assert paused.pause_reason == (
        f"AWS kept failing after {max_retries + 1} tries (FailoverDBCluster: ServiceUnavailable: down for now); "
        "resume with continue to try again"
    )
    assert world.rds.calls["failover"] == max_retries + 1
    assert world.rds.changes_of("failover") == [] and world.rds.writer() == WRITER
    stored = world.op(op.id)
    assert stored.state is OperationState.PAUSED
    assert stored.steps[index].error == paused.pause_reason

    world.engine.resume(op.id, "continue")
    assert world.op(op.id).steps[index].retry_count == 0
    result = world.drive(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    temp = temp_instance_id(CLUSTER, op.id)
    assert [c["target"] for c in world.rds.changes_of("failover")] == [temp, WRITER]
    assert world.rds.writer() == WRITER and not world.rds.exists(temp)


def test_a_busy_answer_becomes_a_retry_that_is_not_counted(world: FakeWorld) -> None:
    busy = BusyAwsError("ModifyDBInstance", "InvalidDBInstanceState", "backing up")
    world.rds.fail_next("modify_instance", busy, times=3)
    op = world.create()
    world.engine.start(op.id)
    index = _step(world, op.id, f"modify_class:{WRITER}")
    while world.op(op.id).current_step_index < index:
        world.clock.sleep(world.engine.advance(op.id).wait_seconds)
    for _ in range(3):  # three busy answers: the step stays where it is, nothing counted
        result = world.engine.advance(op.id)
        assert result.outcome is Outcome.WAIT and result.wait_seconds == 30
        world.clock.sleep(result.wait_seconds)
    step = world.op(op.id).steps[index]
    assert step.state is StepState.IN_PROGRESS and step.retry_count == 0
    assert step.progress.busy_reason == "AWS says busy: InvalidDBInstanceState: backing up"
    assert world.rds.changes_of("modify_instance") == []

    result = world.drive(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    messages = [e.message for e in world.events(op.id) if e.type == "step_busy"]
    assert messages == [f"Step modify_class:{WRITER}: AWS says busy: InvalidDBInstanceState: backing up"]
    assert world.rds.calls["modify_instance"] == 3 + 3
    assert [c["instance_id"] for c in world.rds.changes_of("modify_instance")] == [WRITER, READER_2, READER_3]
    assert "operation_paused" not in world.event_types(op.id)


def test_a_writer_moved_behind_the_tools_back_pauses_with_why_and_changes_nothing(world: FakeWorld) -> None:
    op = world.create()
    world.rds.set_writer(CLUSTER, READER_2)  # someone failed over by hand after the plan was made

    paused = world.run(op.id)

    expected = (
        f"the writer of {CLUSTER} is {READER_2}, not {WRITER} as planned; "
        "check the cluster, then abort and create a new operation"
    )
    assert paused.outcome is Outcome.INTERVENTION and paused.step_name == "check_cluster"
    assert paused.pause_reason == expected
    stored = world.op(op.id)
    assert stored.state is OperationState.PAUSED and stored.steps[0].error == expected
    assert [e.message for e in world.events(op.id) if e.type == "operation_paused"] == [expected]
    assert world.rds.changes_but_the_mark() == []
    assert world.rds.classes() == {WRITER: OLD_CLASS, READER_2: OLD_CLASS, READER_3: OLD_CLASS}
