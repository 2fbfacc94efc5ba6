"""A person's answers and Step Functions' bookkeeping, on the fake RDS: abort, rollback, mark_complete, reset,
record_intervention, fail. What AWS is left as is asserted, not only the operation's state."""

from __future__ import annotations

import pytest

from rds_maint.errors import BadInput
from rds_maint.model import OperationState, Outcome, StepState
from rds_maint.names import temp_instance_id
from tests.helpers.fake_rds import CLUSTER, NEW_CLASS, OLD_CLASS, READER_2, READER_3, WRITER, FakeWorld


def test_abort_midway_deletes_the_temp_instance_and_restores_the_writer(world: FakeWorld) -> None:
    op = world.create(pause_before_steps=[f"modify_class:{READER_2}"])
    assert world.run(op.id).step_name == f"modify_class:{READER_2}"
    temp = temp_instance_id(CLUSTER, op.id)
    assert world.rds.writer() == temp  # mid-way: the temp instance writes

    world.engine.resume(op.id, "abort", "window over")
    result = world.drive(op.id)

    assert result.outcome is Outcome.FAILED
    assert world.rds.writer() == WRITER
    assert not world.rds.exists(temp)
    # abort undoes nothing else: the writer keeps its new class, the readers were never touched
    assert world.rds.classes() == {WRITER: NEW_CLASS, READER_2: OLD_CLASS, READER_3: OLD_CLASS}
    stored = world.op(op.id)
    assert stored.state is OperationState.FAILED
    assert stored.error == "aborted by operator (window over)"
    assert [s.name for s in stored.steps][-2:] == ["abort_failback", "abort_delete_temp_instance"]
    by_name = {s.name: s.state for s in stored.steps}
    assert by_name[f"modify_class:{READER_2}"] is StepState.SKIPPED
    assert by_name["abort_failback"] is by_name["abort_delete_temp_instance"] is StepState.COMPLETED
    types = world.event_types(op.id)
    assert "operation_abort" in types and types[-1] == "operation_failed"
    assert world.store.lock_holder(CLUSTER, op.region) is None


def test_rollback_of_a_class_change_puts_every_class_back(world: FakeWorld) -> None:
    op = world.create(pause_before_steps=["verify"])
    assert world.run(op.id).step_name == "verify"
    assert world.rds.classes() == {WRITER: NEW_CLASS, READER_2: NEW_CLASS, READER_3: NEW_CLASS}

    world.engine.resume(op.id, "rollback")
    result = world.drive(op.id)

    assert result.outcome is Outcome.FAILED  # rolled back: the change did not happen
    assert world.op(op.id).state is OperationState.ROLLED_BACK
    assert world.rds.classes() == {WRITER: OLD_CLASS, READER_2: OLD_CLASS, READER_3: OLD_CLASS}
    assert world.rds.writer() == WRITER
    temp = temp_instance_id(CLUSTER, op.id)
    assert not world.rds.exists(temp)
    assert len(world.rds.changes_of("create_cluster_instance")) == 1  # no second temp instance for the rollback
    back = world.rds.changes_of("modify_instance")[3:]
    assert [(c["instance_id"], c["instance_class"]) for c in back] == [
        (READER_2, OLD_CLASS),
        (READER_3, OLD_CLASS),
        (WRITER, OLD_CLASS),
    ]
    # the writer is never changed in place: a reader already back on the old class holds it meanwhile
    assert [c["target"] for c in world.rds.changes_of("failover")] == [temp, WRITER, READER_2, WRITER]


def test_mark_complete_is_refused_while_the_temp_instance_is_the_writer(world: FakeWorld) -> None:
    op = world.create(pause_before_steps=[f"modify_class:{READER_2}"], wait_timeout=300)
    world.run(op.id)
    temp = temp_instance_id(CLUSTER, op.id)
    world.clock.sleep(3600)  # what was under way lands first (the pause waits for a person: time does not matter)
    world.rds.classes()
    world.rds.set_status(WRITER, "storage-optimization")  # the failback cannot happen for now

    world.engine.resume(op.id, "mark_complete")  # first the engine tries the clean-up itself
    busy = world.drive(op.id)
    assert busy.outcome is Outcome.INTERVENTION and busy.step_name == "final_failback"
    with pytest.raises(BadInput, match=f"mark_complete refused.*temp instance {temp} is the writer"):
        world.engine.resume(op.id, "mark_complete")
    assert world.op(op.id).state is OperationState.PAUSED
    assert world.rds.writer() == temp and world.rds.exists(temp)

    world.rds.set_status(WRITER, "available")
    world.engine.resume(op.id, "continue")
    result = world.drive(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert world.rds.writer() == WRITER and not world.rds.exists(temp)
    assert world.rds.classes() == {WRITER: NEW_CLASS, READER_2: OLD_CLASS, READER_3: OLD_CLASS}
    assert "final_cleanup" in world.event_types(op.id)


def test_reset_to_a_step_runs_it_again(world: FakeWorld) -> None:
    op = world.create(pause_before_steps=["verify"])
    world.run(op.id)
    world.rds.set_class(READER_3, OLD_CLASS)  # someone put it back by hand before the verification
    step = f"modify_class:{READER_3}"
    with pytest.raises(BadInput, match="no step 'modify_class:nope'"):
        world.engine.reset(op.id, "modify_class:nope")

    reset = world.engine.reset(op.id, step)

    assert reset.outcome is Outcome.INTERVENTION and reset.step_name == step
    stored = world.op(op.id)
    index = next(i for i, s in enumerate(stored.steps) if s.name == step)
    assert stored.current_step_index == index
    assert [s.state for s in stored.steps[index:]] == [StepState.PENDING] * (len(stored.steps) - index)
    assert reset.pause_reason == f"Reset to step '{step}' by operator; answer continue to run from there"
    assert "operation_reset" in world.event_types(op.id)

    world.engine.resume(op.id, "continue")
    again = world.drive(op.id)  # the steps after it run again too, and so does the pause before verify
    assert again.outcome is Outcome.INTERVENTION and again.step_name == "verify"
    world.engine.resume(op.id, "continue")
    assert world.drive(op.id).outcome is Outcome.COMPLETED
    assert world.rds.classes() == {WRITER: NEW_CLASS, READER_2: NEW_CLASS, READER_3: NEW_CLASS}
    changed = [c["instance_id"] for c in world.rds.changes_of("modify_instance")]
    assert changed == [WRITER, READER_2, READER_3, READER_3]
    assert world.rds.writer() == WRITER
    with pytest.raises(BadInput, match="only a paused operation can be reset"):
        world.engine.reset(op.id, step)


def test_record_intervention_is_idempotent_for_the_same_token(world: FakeWorld) -> None:
    op = world.create(pause_before_steps=["failover_to_temp"])
    world.run(op.id)
    arn = "arn:aws:states:us-east-1:123456789012:execution:rds-maint:run-1"

    world.engine.record_intervention(op.id, "token-1", "failover_to_temp", 2, arn)
    version = world.op(op.id).version
    again = world.engine.record_intervention(op.id, "token-1", "failover_to_temp", 2, arn)

    assert again.outcome is Outcome.INTERVENTION
    stored = world.op(op.id)
    assert stored.version == version  # nothing written the second time
    assert stored.intervention is not None
    assert (stored.intervention.task_token, stored.intervention.notifications) == ("token-1", 1)
    assert (stored.intervention.step_name, stored.intervention.step_index) == ("failover_to_temp", 2)
    assert stored.intervention.execution_arn == arn
    assert world.event_types(op.id).count("intervention_requested") == 1

    world.engine.record_intervention(op.id, "token-2")  # a new notice: counted
    renewed = world.op(op.id).intervention
    assert renewed is not None and (renewed.task_token, renewed.notifications) == ("token-2", 2)
    assert world.event_types(op.id).count("intervention_requested") == 2
    version = world.op(op.id).version
    with pytest.raises(BadInput, match="task_token must be a non-empty string"):
        world.engine.record_intervention(op.id, "")
    assert world.op(op.id).version == version

    world.engine.resume(op.id, "continue")
    assert world.op(op.id).intervention is None
    assert world.drive(op.id).outcome is Outcome.COMPLETED
    assert world.rds.writer() == WRITER
    with pytest.raises(BadInput, match="only a paused operation waits for an answer"):
        world.engine.record_intervention(op.id, "token-3")


def test_fail_from_step_functions_pauses_the_operation_and_a_new_run_resumes_it(world: FakeWorld) -> None:
    op = world.create()
    world.engine.start(op.id)
    for _ in range(3):  # check_cluster, then the temp instance is asked for and waited on
        world.engine.advance(op.id)
    changes = list(world.rds.changes)

    failed = world.engine.fail(op.id, "States.Timeout", "the execution timed out")

    assert failed.outcome is Outcome.INTERVENTION
    stored = world.op(op.id)
    assert stored.state is OperationState.PAUSED
    assert stored.pause_reason == (
        "The Step Functions execution failed (States.Timeout: the execution timed out). Start a new execution "
        f'with {{"operation_id": "{op.id}"}} to resume'
    )
    assert [e.message for e in world.events(op.id) if e.type == "execution_failed"] == [
        "States.Timeout: the execution timed out"
    ]
    assert world.rds.changes == changes  # fail() only records

    world.engine.resume(op.id, "continue")
    result = world.drive(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert world.rds.classes() == {WRITER: NEW_CLASS, READER_2: NEW_CLASS, READER_3: NEW_CLASS}
    assert len(world.rds.changes_of("create_cluster_instance")) == 1
    version = world.op(op.id).version
    assert world.engine.fail(op.id, "States.Error").outcome is Outcome.COMPLETED  # a final state stays as it is
    assert world.op(op.id).version == version


def test_fail_before_start_leaves_the_operation_created(world: FakeWorld) -> None:
    op = world.create()

    world.engine.fail(op.id, None, None)

    stored = world.op(op.id)
    assert stored.state is OperationState.CREATED
    assert [e.message for e in world.events(op.id) if e.type == "execution_failed"] == ["States.Error: no cause given"]
    assert world.store.lock_holder(CLUSTER, op.region) is None
    assert world.run(op.id).outcome is Outcome.COMPLETED
