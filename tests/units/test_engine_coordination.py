"""Two callers, one operation or one cluster: the step lease and the cluster lock, on the fake RDS."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from rds_maint.errors import ClusterLocked
from rds_maint.model import Event, Operation, OperationState, Outcome, StepResult, StepState
from rds_maint.names import temp_instance_id
from rds_maint.store import FileStore
from tests.helpers.fake_rds import CLUSTER, NEW_CLASS, REGION, WRITER, FakeWorld


class SaveAfter(FileStore):
    """A file store whose next save lets `first` run before it: two callers that loaded the same version."""

    def __init__(self, root: Path, first: Callable[[], object]) -> None:
        super().__init__(root)
        self.first: Callable[[], object] | None = first

    def save(self, operation: Operation, events: list[Event]) -> Operation:
        if self.first is not None:
            first, self.first = self.first, None
            first()
        return super().save(operation, events)


def test_a_second_engine_finds_the_step_leased_and_calls_nothing(world: FakeWorld) -> None:
    op = world.create()
    world.engine.start(op.id)
    world.engine.advance(op.id)  # check_cluster
    other = world.second_engine()
    during: list[tuple[StepResult, Counter[str]]] = []

    def second_caller() -> None:
        before = world.rds.calls.copy()
        during.append((other.advance(op.id), world.rds.calls - before))

    world.rds.before("create_cluster_instance", second_caller)
    first = world.engine.advance(op.id)  # create_temp_instance's run, under the lease

    assert first.outcome is Outcome.WAIT
    seen, calls = during[0]
    assert seen.outcome is Outcome.WAIT and seen.step_name == "create_temp_instance" and seen.wait_seconds > 0
    assert calls == Counter()  # the second engine asked AWS nothing
    step = world.op(op.id).steps[1]
    assert step.state is StepState.WAITING
    assert "lease_attempt" not in step.result  # the save after `run` ended the lease

    assert world.drive(op.id, engine=other).outcome is Outcome.COMPLETED
    temp = temp_instance_id(CLUSTER, op.id)
    assert [c["instance_id"] for c in world.rds.changes_of("create_cluster_instance")] == [temp]
    assert world.rds.writer() == WRITER and not world.rds.exists(temp)


def test_of_two_engines_that_loaded_the_same_version_only_one_runs_the_step(world: FakeWorld) -> None:
    op = world.create()
    world.engine.start(op.id)
    world.engine.advance(op.id)  # check_cluster
    winner: list[StepResult] = []
    racing = SaveAfter(world.store.root, lambda: winner.append(world.engine.advance(op.id)))
    loser = world.engine_for(world.rds, racing, world.clock)

    lost = loser.advance(op.id)  # loads, then the other engine takes the lease and runs before its lease save

    assert winner[0].outcome is Outcome.WAIT and winner[0].step_name == "create_temp_instance"
    assert lost.error is not None and lost.error.startswith("conflict:")
    assert world.rds.calls["create_cluster_instance"] == 1
    assert len(world.rds.changes_of("create_cluster_instance")) == 1


def test_a_second_operation_on_the_cluster_is_refused_while_the_first_is_active(world: FakeWorld) -> None:
    first = world.create()
    world.engine.start(first.id)
    world.engine.advance(first.id)

    with pytest.raises(ClusterLocked, match=f"operation '{first.id}'.*holds its lock"):
        world.create({"target_instance_type": "db.r6g.2xlarge"})
    assert [o.id for o in world.store.list_operations()] == [first.id]
    assert world.rds.changes == []  # check_cluster only read

    assert world.drive(first.id).outcome is Outcome.COMPLETED
    assert world.store.lock_holder(CLUSTER, REGION) is None
    second = world.create({"target_instance_type": "db.r6g.2xlarge"})
    assert world.run(second.id).outcome is Outcome.COMPLETED
    assert set(world.rds.classes().values()) == {"db.r6g.2xlarge"}
    assert world.rds.writer() == WRITER


def test_an_operation_created_but_not_started_does_not_hold_the_cluster(world: FakeWorld) -> None:
    first = world.create()
    second = world.create()
    world.engine.start(second.id)
    with pytest.raises(ClusterLocked, match=f"operation '{second.id}'"):
        world.engine.start(first.id)
    assert world.op(first.id).state is OperationState.CREATED


def test_force_unlock_frees_the_cluster_and_records_it_on_the_holder(world: FakeWorld) -> None:
    first = world.create()
    world.engine.start(first.id)

    assert world.engine.force_unlock(CLUSTER, REGION, "stuck since Friday") == first.id

    assert world.store.lock_holder(CLUSTER, REGION) is None
    released = [e for e in world.events(first.id) if e.type == "lock_released_by_operator"]
    assert len(released) == 1 and "stuck since Friday" in released[0].message
    assert world.op(first.id).state is OperationState.RUNNING  # the holder itself is left as it was
    second = world.create({"target_instance_type": NEW_CLASS})
    assert world.store.load(second.id).state is OperationState.CREATED
    assert world.engine.force_unlock(CLUSTER, REGION) is None  # nothing held: nothing to do
