"""Two callers, one operation or one cluster: the step lease and the cluster lock (the store's lock and the
cluster's mark in AWS), on the fake RDS."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from rds_maint.errors import BadInput, ClusterLocked, PersonAwsError, TransientAwsError
from rds_maint.model import Event, Operation, OperationState, Outcome, StepResult, StepState
from rds_maint.names import temp_instance_id
from rds_maint.snapshots import TAG_OPERATION_ID
from rds_maint.store import FileStore
from tests.helpers.fake_rds import CLUSTER, MARK, NEW_CLASS, REGION, WRITER, FakeInstance, FakeWorld


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
    assert world.rds.changes_but_the_mark() == []  # check_cluster only read
    assert world.rds.mark() == first.id

    assert world.drive(first.id).outcome is Outcome.COMPLETED
    assert world.store.lock_holder(CLUSTER, REGION) is None
    assert world.rds.mark() is None  # taken off at the final state
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

    unlocked = world.engine.force_unlock(CLUSTER, REGION, "stuck since Friday")

    assert unlocked is not None and unlocked.holder == unlocked.recorded_on == first.id and unlocked.mark_removed
    assert world.store.lock_holder(CLUSTER, REGION) is None
    assert world.rds.mark() is None
    released = [e for e in world.events(first.id) if e.type == "lock_released_by_operator"]
    assert len(released) == 1 and "stuck since Friday" in released[0].message
    assert world.op(first.id).state is OperationState.RUNNING  # the holder itself is left as it was
    second = world.create({"target_instance_type": NEW_CLASS})
    assert world.store.load(second.id).state is OperationState.CREATED
    assert world.engine.force_unlock(CLUSTER, REGION) is None  # nothing held: nothing to do


# -- the cluster's mark in AWS: operations of other stores and other people ---------------------------


def other_store(world: FakeWorld, root: Path) -> FakeWorld:
    """A second operator: their own file store, the same AWS and clock."""
    store = FileStore(root / "laptop")
    return FakeWorld(world.clock, world.rds, store, world.engine_for(world.rds, store, world.clock))


def test_an_operation_of_another_store_holds_the_cluster_through_its_mark(world: FakeWorld, root: Path) -> None:
    theirs = other_store(world, root)
    first = theirs.create()
    theirs.engine.start(first.id)
    assert world.rds.mark() == first.id

    with pytest.raises(ClusterLocked, match=f"rds-maint:active-operation says operation '{first.id}' holds it"):
        world.create()
    assert world.store.list_operations() == []
    with pytest.raises(ClusterLocked, match=f"rds-maint unlock {CLUSTER} --region {REGION} --force"):
        world.engine.preview({"type": "instance_cycle", "cluster_id": CLUSTER, "region": REGION, "params": {}})
    assert world.engine.lock_holder(CLUSTER, REGION) == first.id  # what `unlock` without --force names


def test_a_start_refused_by_the_mark_gives_the_store_lock_back_and_changes_nothing(
    world: FakeWorld, root: Path
) -> None:
    mine = world.create()  # created while the cluster was free
    theirs = other_store(world, root)
    first = theirs.create()
    theirs.engine.start(first.id)
    before = list(world.rds.changes)

    with pytest.raises(ClusterLocked, match=f"operation '{first.id}'") as caught:
        world.engine.start(mine.id)

    assert caught.value.holder == first.id
    assert world.store.lock_holder(CLUSTER, REGION) is None
    assert world.op(mine.id).state is OperationState.CREATED and world.op(mine.id).version == 1
    assert world.rds.changes == before and world.rds.mark() == first.id

    assert theirs.drive(first.id).outcome is Outcome.COMPLETED
    assert world.rds.mark() is None
    assert world.run(mine.id).outcome is Outcome.COMPLETED  # free again: the same operation now runs


def test_a_start_that_died_after_the_store_lock_puts_the_mark_on_when_run_again(world: FakeWorld) -> None:
    op = world.create()
    world.store.acquire_lock(CLUSTER, REGION, op.id)  # the crash: store lock taken, no mark yet
    assert world.rds.mark() is None

    assert world.engine.start(op.id).error is None

    assert world.rds.mark() == op.id and world.op(op.id).state is OperationState.RUNNING
    assert len(world.rds.changes_of("add_tags")) == 1


class Crash(BaseException):
    """The process dies (a killed laptop, a Lambda timeout) right after AWS applied the tag."""


def test_a_start_that_died_after_the_mark_is_saved_when_run_again_without_tagging_twice(world: FakeWorld) -> None:
    op = world.create()
    tagged = world.rds.add_tags

    def tag_then_die(arn: str, tags: dict[str, str]) -> None:
        tagged(arn, tags)
        raise Crash

    world.rds.add_tags = tag_then_die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        world.engine.start(op.id)
    world.rds.add_tags = tagged  # type: ignore[method-assign]
    assert world.rds.mark() == op.id and world.op(op.id).state is OperationState.CREATED

    assert world.engine.start(op.id).error is None  # run again: it finds its own mark

    assert world.op(op.id).state is OperationState.RUNNING and world.store.lock_holder(CLUSTER, REGION) == op.id
    assert len(world.rds.changes_of("add_tags")) == 1  # tagged once
    assert world.drive(op.id).outcome is Outcome.COMPLETED and world.rds.mark() is None


def test_a_lost_answer_to_the_tag_leaves_the_mark_pending_and_tags_nothing_twice(world: FakeWorld) -> None:
    op = world.create()
    lost = TransientAwsError("AddTagsToResource", "InternalFailure", "answer lost")
    tagged = world.rds.add_tags

    def tag_then_lose_the_answer(arn: str, tags: dict[str, str]) -> None:
        tagged(arn, tags)
        raise lost

    world.rds.add_tags = tag_then_lose_the_answer  # type: ignore[method-assign]
    assert world.engine.start(op.id).error is None
    world.rds.add_tags = tagged  # type: ignore[method-assign]
    assert "mark_pending" in world.event_types(op.id)

    assert world.drive(op.id).outcome is Outcome.COMPLETED  # the first advance finds the mark its own

    assert len(world.rds.changes_of("add_tags")) == 1 and world.rds.mark() is None


def test_a_mark_left_by_a_finished_operation_of_this_store_is_taken_over(world: FakeWorld) -> None:
    first = world.create()
    world.rds.fail_next("remove_tags", PersonAwsError("RemoveTagsFromResource", "AccessDenied", "not allowed"))
    assert world.run(first.id).outcome is Outcome.COMPLETED  # the failed release is only logged
    assert world.rds.mark() == first.id

    second = world.create({"target_instance_type": "db.r6g.2xlarge"})
    assert world.engine.start(second.id).error is None

    assert world.rds.mark() == second.id
    taken = [e for e in world.events(second.id) if e.type == "mark_taken_over"]
    assert len(taken) == 1 and taken[0].data["previous_holder"] == first.id


def test_the_mark_is_released_only_while_it_names_the_operation(world: FakeWorld) -> None:
    op = world.create()
    world.engine.start(op.id)
    world.rds.set_tag(CLUSTER, MARK, "someone-elses-op")  # a person re-tagged the cluster by hand

    assert world.drive(op.id).outcome is Outcome.COMPLETED

    assert world.rds.mark() == "someone-elses-op"
    assert world.rds.changes_of("remove_tags") == []


def test_force_unlock_removes_the_mark_of_an_operation_this_store_does_not_know(world: FakeWorld, root: Path) -> None:
    theirs = other_store(world, root)
    first = theirs.create()
    theirs.engine.start(first.id)

    unlocked = world.engine.force_unlock(CLUSTER, REGION, "their laptop died")

    assert unlocked is not None and unlocked.holder == first.id and unlocked.mark_removed
    assert unlocked.recorded_on is None  # not an operation of this store: nothing to record it on
    assert world.rds.mark() is None
    assert theirs.store.lock_holder(CLUSTER, REGION) == first.id  # their store is theirs to unlock
    assert world.create().state is OperationState.CREATED


def test_a_plan_is_refused_while_another_operations_temp_instance_is_in_the_cluster(world: FakeWorld) -> None:
    leftover = temp_instance_id(CLUSTER, "orders-prod-20260101-000000-abcdef")
    world.rds.instances[leftover] = FakeInstance(
        id=leftover,
        cluster_id=CLUSTER,
        instance_class="db.r6g.large",
        availability_zone=f"{REGION}a",
        engine="aurora-postgresql",
        engine_version="15.4",
        tags={TAG_OPERATION_ID: "orders-prod-20260101-000000-abcdef"},
    )
    world.rds.clusters[CLUSTER].members.append(leftover)

    with pytest.raises(BadInput, match=f"'{leftover}', a temporary instance of operation 'orders-prod-20260101"):
        world.create()
    assert world.store.list_operations() == [] and world.rds.changes == []

    world.rds.instances[leftover].tags.clear()  # untagged, but named like ours: refused all the same
    with pytest.raises(BadInput, match="named like an rds-maint temporary instance"):
        world.create()


def test_a_start_aws_throttles_puts_the_mark_on_before_the_first_step(world: FakeWorld) -> None:
    op = world.create()
    throttled = TransientAwsError("DescribeDBClusters", "Throttling", "Rate exceeded")
    world.rds.fail_next("find_cluster", throttled, times=3)

    started = world.engine.start(op.id)

    assert started.error is None and world.op(op.id).state is OperationState.RUNNING
    assert world.rds.mark() is None and "mark_pending" in world.event_types(op.id)
    waited = world.engine.advance(op.id)  # still throttled: nothing runs, it waits
    assert waited.outcome is Outcome.WAIT and waited.wait_seconds > 0
    assert world.rds.changes == []
    world.engine.advance(op.id)  # the third throttle
    world.engine.advance(op.id)  # AWS answers: the mark first, then check_cluster
    assert world.rds.mark() == op.id
    assert world.drive(op.id).outcome is Outcome.COMPLETED and world.rds.mark() is None


def test_a_pending_mark_found_taken_pauses_before_anything_changed(world: FakeWorld, root: Path) -> None:
    op = world.create()
    world.rds.fail_next("find_cluster", TransientAwsError("DescribeDBClusters", "Throttling", "x"))
    world.engine.start(op.id)
    theirs = other_store(world, root)
    first = theirs.create()
    theirs.engine.start(first.id)  # another store marked the cluster meanwhile

    paused = world.engine.advance(op.id)

    assert paused.outcome is Outcome.INTERVENTION and first.id in (paused.pause_reason or "")
    assert world.rds.changes_but_the_mark() == [] and world.rds.mark() == first.id
    world.engine.resume(op.id, "abort")
    assert world.drive(op.id).outcome is Outcome.FAILED
    assert world.rds.mark() == first.id  # not ours: left as it is
